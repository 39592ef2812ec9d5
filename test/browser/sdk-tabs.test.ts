/**
 * The SDK in Chromium, in token mode on an app of another origin (allowed by
 * `--cors-origins`), with the pair in `localStorage` so that tabs share it: the cross-tab
 * single-flight refresh (Web Locks + BroadcastChannel), sign-out across tabs, and a socket
 * that comes back after the server restarts. The server counts the refreshes it receives.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientTestServer, startClientServer, username } from "../client-kit.js";
import {
  type AppOrigin,
  launchChromium,
  registerUser,
  skipBrowserTests,
  startAppOrigin,
} from "./browser-kit.js";

describe.skipIf(skipBrowserTests)(
  "the SDK in Chromium, across tabs (token mode)",
  { timeout: 60_000 },
  () => {
    let browser: Browser;
    let app: AppOrigin;
    let server: ClientTestServer;

    beforeAll(async () => {
      app = await startAppOrigin();
      server = await startClientServer({ corsOrigins: [app.origin] });
      browser = await launchChromium();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await app?.close();
    });

    /** Two tabs of the app in one fresh profile, the first signed in; the second shares its pair. */
    async function twoSignedInTabs(
      target: ClientTestServer,
    ): Promise<{ context: BrowserContext; tabs: [Page, Page] }> {
      const context = await browser.newContext();
      const user = await registerUser(target.urls.http, username());
      const first = await context.newPage();
      await first.goto(`${app.origin}/`);
      await first.evaluate(`app.setup(${JSON.stringify(target.urls.http)}, "token")`);
      await first.evaluate(
        `app.login(${JSON.stringify(user.username)}, ${JSON.stringify(user.password)}, false)`,
      );
      const second = await context.newPage();
      await second.goto(`${app.origin}/`);
      await second.evaluate(`app.setup(${JSON.stringify(target.urls.http)}, "token")`);
      return { context, tabs: [first, second] };
    }

    it("two tabs with an expired access token fire 50 requests at once: one refresh reaches the server, no tab is signed out", async () => {
      const { context, tabs } = await twoSignedInTabs(server);
      // Both tabs hold the same pair, and both work with it.
      for (const tab of tabs) expect(await tab.evaluate("app.fire(1, '/auth/session')")).toEqual([200]);
      server.clock.advance(16 * 60 * 1000); // past the 15-minute access JWT
      const before = await server.refreshRequests();
      const statuses = await Promise.all(tabs.map((tab) => tab.evaluate("app.fire(25, '/auth/session')")));
      expect(statuses.flat()).toEqual(Array.from({ length: 50 }, () => 200));
      expect((await server.refreshRequests()) - before).toBe(1);
      for (const tab of tabs) expect(await tab.evaluate("app.signedOut")).toEqual([]);
      await context.close();
    });

    it("signing out in one tab signs out the others", async () => {
      const { context, tabs } = await twoSignedInTabs(server);
      const [first, second] = tabs;
      await first.evaluate("app.client.logout()");
      expect(await second.evaluate("app.signedOutOnce")).toBe("other_tab");
      expect(await second.evaluate("app.client.tokens()")).toBeNull();
      expect(await second.evaluate("localStorage.getItem('tessera.tokens')")).toBeNull();
      // And the server agrees: the session is over.
      expect(await second.evaluate("app.fire(1, '/auth/session')")).toEqual([401]);
      await context.close();
    });

    it("a socket reconnects after the server restarts, and its gate answers again", async () => {
      let own = await startClientServer({ corsOrigins: [app.origin] });
      try {
        const context = await browser.newContext();
        const user = await registerUser(own.urls.http, username());
        const page = await context.newPage();
        await page.goto(`${app.origin}/`);
        await page.evaluate(`app.setup(${JSON.stringify(own.urls.http)}, "token")`);
        await page.evaluate(
          `app.login(${JSON.stringify(user.username)}, ${JSON.stringify(user.password)}, true)`,
        );
        expect(await page.evaluate("app.openSocket()")).toBe(true);
        expect(await page.evaluate("app.echo({ n: 1 })")).toEqual({ n: 1 });
        await page.evaluate("window.readyAgain = app.nextReady(); 0");
        own = await own.restart();
        const sessionId = await page.evaluate("window.readyAgain");
        expect(typeof sessionId).toBe("string");
        expect(await page.evaluate("app.echo({ n: 2 })")).toEqual({ n: 2 });
        expect(await page.evaluate("app.signedOut")).toEqual([]);
        await context.close();
      } finally {
        await own.stop();
      }
    });
  },
);
