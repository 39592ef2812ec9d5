/**
 * Screenshots of every page, for a person to look at: `TESSERA_SCREENSHOTS=<dir> npx vitest
 * run test/browser/screenshots.test.ts`. Skipped unless that variable names a directory
 * (CI has nobody to look).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type ClientTestServer, startClientServer } from "../client-kit.js";
import { launchChromium, registerUser, signInThroughPage } from "./browser-kit.js";

const DIR = process.env.TESSERA_SCREENSHOTS;
const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

describe.skipIf(DIR === undefined)("screenshots of the pages", { timeout: 120_000 }, () => {
  let server: ClientTestServer;
  beforeAll(async () => {
    server = await startClientServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("takes them", async () => {
    const dir = DIR as string;
    mkdirSync(dir, { recursive: true });
    const browser = await launchChromium();
    try {
      const base = server.urls.http;
      const user = await registerUser(base, "ada");
      await signInThroughPage(await browser.newContext({ userAgent: IPHONE }), base, user, "Ada's iPhone");
      await signInThroughPage(await browser.newContext({ userAgent: FIREFOX_WINDOWS }), base, user, "");
      server.clock.advance(3 * 3600_000);
      const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await signInThroughPage(desktop, base, user, "Work laptop");
      await page.screenshot({ path: join(dir, "sessions-desktop.png"), fullPage: true });
      // Recent activity with a failed sign-in, a script's agent and a session ended here.
      server.clock.advance(20 * 60_000);
      await fetch(`${base}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "<img src=x onerror=alert(1)>" },
        body: JSON.stringify({ username: user.username, password: "guess" }),
      });
      server.clock.advance(5 * 60_000);
      await page.reload();
      page.once("dialog", (dialog) => void dialog.accept());
      await page
        .locator("li.session")
        .filter({ hasText: "Firefox" })
        .getByRole("button", { name: "Sign out" })
        .click();
      await page.waitForFunction("document.querySelector('#activity-list .event-reason') !== null");
      await page.screenshot({ path: join(dir, "sessions-activity-desktop.png"), fullPage: true });
      const phone = await browser.newContext({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
        userAgent: IPHONE,
      });
      const phonePage = await phone.newPage();
      await phonePage.goto(`${base}/account/sign-in`);
      await phonePage.screenshot({ path: join(dir, "sign-in-phone.png"), fullPage: true });
      await phonePage.getByLabel("Username").fill("ada");
      await phonePage.getByLabel("Password").fill("wrong-password");
      await phonePage.getByRole("button", { name: "Sign in" }).click();
      await phonePage.waitForSelector("#sign-in-error");
      await phonePage.screenshot({ path: join(dir, "sign-in-error-phone.png"), fullPage: true });
      await phonePage.getByLabel("Password").fill(user.password);
      await Promise.all([
        phonePage.waitForURL(/\/account\/sessions$/),
        phonePage.getByRole("button", { name: "Sign in" }).click(),
      ]);
      await phonePage.screenshot({ path: join(dir, "sessions-phone.png"), fullPage: true });
      await phonePage.locator("#activity").screenshot({ path: join(dir, "sessions-activity-phone.png") });
      const signIn = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
      await signIn.goto(`${base}/account/sign-in`);
      await signIn.screenshot({ path: join(dir, "sign-in-desktop.png"), fullPage: true });
      const json = { "content-type": "application/json" };
      const login = await fetch(`${base}/auth/login`, {
        method: "POST",
        headers: json,
        body: JSON.stringify(user),
      });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const issued = await fetch(`${base}/auth/links`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${accessToken}` },
        body: "{}",
      });
      const link = (await issued.json()) as { url: string };
      await signIn.goto(link.url);
      await signIn.goto(link.url);
      await signIn.screenshot({ path: join(dir, "error-link-used.png"), fullPage: true });
      // Enough events for "Show more activity", in dark mode.
      for (const agent of ["curl/8.5.0", "python-requests/2.32", "Go-http-client/1.1"]) {
        await fetch(`${base}/auth/login`, {
          method: "POST",
          headers: { ...json, "user-agent": agent },
          body: JSON.stringify(user),
        });
      }
      const dark = await signInThroughPage(
        await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" }),
        base,
        user,
        "Dark",
      );
      await dark.locator("#activity").screenshot({ path: join(dir, "sessions-activity-dark.png") });
      await phonePage.goto(`${base}/checkout`);
      await phonePage.screenshot({ path: join(dir, "error-not-found-phone.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
