/**
 * The sessions & devices page in Chromium, signed in through the sign-in form (cookie
 * mode): revoking another device ends its next request and its socket, "sign out all other
 * sessions" keeps only the current one, and the pages pass axe with no serious or critical
 * findings. Confirmations are the browser's own dialogs, accepted here.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { username } from "../client-kit.js";
import {
  APP_JS,
  browserSuite,
  expectAccessible,
  registerUser,
  sdkBundle,
  signInThroughPage,
  skipBrowserTests,
} from "./browser-kit.js";

describe.skipIf(skipBrowserTests)("the sessions page in Chromium", { timeout: 90_000 }, () => {
  const t = browserSuite();
  const profile = t.profile;

  /** The SDK in cookie mode on a page of the server, with a socket open. */
  async function withSdkSocket(page: Page): Promise<void> {
    await page.addScriptTag({ content: await sdkBundle() });
    await page.addScriptTag({ content: APP_JS });
    await page.evaluate(`app.setup(location.origin, "cookie")`);
    expect(await page.evaluate("app.openSocket()")).toBe(true);
    expect(await page.evaluate("app.echo('hello')")).toBe("hello");
  }

  function sessionItems(page: Page) {
    return page.locator("li.session");
  }

  it("one device revokes another from the page: the other's next request and its socket end", async () => {
    const user = await registerUser(t.server.urls.http, username());
    const laptop = await signInThroughPage(await profile(), t.server.urls.http, user, "Laptop");
    const phone = await signInThroughPage(
      await profile({ bypassCSP: true }),
      t.server.urls.http,
      user,
      "Phone",
    );
    await withSdkSocket(phone);

    await laptop.reload();
    await expect.poll(() => sessionItems(laptop).count()).toBe(2);
    const first = sessionItems(laptop).first();
    expect(await first.textContent()).toContain("This device");
    expect(await first.textContent()).toContain("Laptop");
    const other = sessionItems(laptop).filter({ hasText: "Phone" });
    laptop.once("dialog", (dialog) => void dialog.accept());
    await other.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => laptop.locator("#status").textContent()).toMatch(/^Signed out /);
    expect(await sessionItems(laptop).count()).toBe(1);

    expect(await phone.evaluate("app.socket && app.stopped")).toEqual({
      code: 4401,
      reason: "token_revoked",
    });
    expect(await phone.evaluate("app.client.fetch('/auth/session').then((r) => r.json())")).toMatchObject({
      error: { code: "token_revoked" },
    });
    await phone.goto(`${t.server.urls.http}/account/sessions`);
    expect(phone.url()).toContain("/account/sign-in?return=");
  });

  it('"Sign out all other sessions" keeps only the current one', async () => {
    const user = await registerUser(t.server.urls.http, username());
    const pages: Page[] = [];
    for (const name of ["Desk", "Tablet", "Phone"]) {
      pages.push(await signInThroughPage(await profile(), t.server.urls.http, user, name));
    }
    const [desk, ...others] = pages as [Page, Page, Page];
    await desk.reload();
    await expect.poll(() => sessionItems(desk).count()).toBe(3);
    desk.once("dialog", (dialog) => void dialog.accept());
    await desk.getByRole("button", { name: "Sign out all other sessions" }).click();
    await expect.poll(() => desk.locator("#status").textContent()).toContain("Only this device");
    expect(await sessionItems(desk).count()).toBe(1);
    expect(await desk.getByText("No other sessions are signed in.").isVisible()).toBe(true);
    expect(await desk.getByRole("button", { name: "Sign out all other sessions" }).isHidden()).toBe(true);

    const listed = await desk.evaluate("fetch('/auth/sessions').then((r) => r.json())");
    expect((listed as { sessions: unknown[] }).sessions).toHaveLength(1);
    for (const page of others) {
      expect(await page.evaluate("fetch('/auth/session').then((r) => r.status)")).toBe(401);
    }
    await desk.reload();
    expect(await sessionItems(desk).count()).toBe(1);
  });

  it("the page is usable from the keyboard: Tab reaches the buttons, Enter confirms a sign-out", async () => {
    const user = await registerUser(t.server.urls.http, username());
    await signInThroughPage(await profile(), t.server.urls.http, user, "Other");
    const page = await signInThroughPage(await profile(), t.server.urls.http, user, "Mine");
    let focused = "";
    for (let i = 0; i < 8 && focused !== "Sign out"; i += 1) {
      await page.keyboard.press("Tab");
      focused = String(await page.evaluate("document.activeElement.textContent"));
    }
    expect(focused).toBe("Sign out");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.keyboard.press("Enter");
    await expect.poll(() => sessionItems(page).count()).toBe(1);
    expect(await page.evaluate("document.activeElement.id")).toBe("status");
  });

  it("the sessions page, the sign-in form and an error page pass axe (no serious or critical findings)", async () => {
    const user = await registerUser(t.server.urls.http, username());
    await signInThroughPage(await profile(), t.server.urls.http, user, "Other");
    const context = await profile({ bypassCSP: true });
    const page = await signInThroughPage(context, t.server.urls.http, user, "Mine");
    const signedOut = await (await profile({ bypassCSP: true })).newPage();
    await signedOut.goto(`${t.server.urls.http}/account/sign-in`);
    const missing = await (await profile({ bypassCSP: true })).newPage();
    const answer = await missing.goto(`${t.server.urls.http}/auth/links/tsl_unknown`);
    expect(answer?.status()).toBe(401);
    for (const target of [page, signedOut, missing]) await expectAccessible(target);
  });
});
