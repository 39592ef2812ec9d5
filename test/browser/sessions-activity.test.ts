/**
 * "Recent activity" on the sessions page in Chromium, against a real server: sign-ins from
 * two browsers, a failed password and a revocation made on the page show newest first with
 * their reasons and this session marked; a hostile user agent is text, on the page and in
 * the fragments the script inserts, and breaks no phone layout; "Show more activity" pages
 * through everything without gaps or repeats; times are in the reader's locale and zone.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { username } from "../client-kit.js";
import {
  browserSuite,
  expectAccessible,
  registerUser,
  signInThroughPage,
  skipBrowserTests,
} from "./browser-kit.js";

const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const CHROME_LINUX =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const HOSTILE = "<img src=x onerror=alert(1)>";

interface Entry {
  readonly title: string;
  readonly reason: string | null;
  readonly where: string | null;
  /** A revocation's request, unless it was the session's own (toEqual skips it when absent). */
  readonly by?: string | undefined;
  readonly current: boolean;
}

describe.skipIf(skipBrowserTests)(
  "the sessions page's recent activity in Chromium",
  { timeout: 90_000 },
  () => {
    const t = browserSuite();
    const profile = t.profile;

    /** The list as a person reads it, top to bottom. */
    function entries(page: Page): Promise<Entry[]> {
      return page.locator("#activity-list > li").evaluateAll((items) =>
        items.map((item) => ({
          title: item.querySelector(".event-title strong")?.textContent ?? "",
          reason: item.querySelector(".event-reason")?.textContent ?? null,
          where: item.querySelector(".event-where")?.textContent ?? null,
          by: item.querySelector(".event-by")?.textContent ?? undefined,
          current: item.querySelector(".badge.this") !== null,
        })),
      );
    }

    /** The user's events of one kind, read with the page's cookie from `GET /auth/events`. */
    function eventCount(page: Page, kind: string): Promise<number> {
      return page.evaluate(
        (k) =>
          fetch(`/auth/events?kind=${k}&limit=200`)
            .then((r) => r.json())
            .then((answer) => (answer as { events: unknown[] }).events.length),
        kind,
      );
    }

    async function failLogin(name: string, userAgent: string): Promise<void> {
      const response = await fetch(`${t.server.urls.http}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": userAgent },
        body: JSON.stringify({ username: name, password: "not-the-password" }),
      });
      expect(response.status).toBe(401);
    }

    it("two devices, a failed password and a revocation from the page show newest first, with reasons", async () => {
      const user = await registerUser(t.server.urls.http, username());
      const laptop = await signInThroughPage(
        await profile({ userAgent: FIREFOX_WINDOWS, bypassCSP: true }),
        t.server.urls.http,
        user,
        "Laptop",
      );
      t.server.clock.advance(60_000);
      const phone = await signInThroughPage(
        await profile({ userAgent: SAFARI_IPHONE }),
        t.server.urls.http,
        user,
        "Phone",
      );
      // `new_device` is written after the sign-in it follows: wait for it before going on.
      await expect.poll(() => eventCount(phone, "new_device")).toBe(1);
      t.server.clock.advance(60_000);
      await failLogin(user.username, CHROME_LINUX);
      t.server.clock.advance(60_000);

      await laptop.reload();
      const phoneItem = laptop.locator("li.session").filter({ hasText: "Phone" });
      laptop.once("dialog", (dialog) => void dialog.accept());
      await phoneItem.getByRole("button", { name: "Sign out" }).click();
      await expect.poll(() => laptop.locator("#status").textContent()).toMatch(/^Signed out /);
      // The script fetches the list again after the revocation: no reload here.
      await expect.poll(async () => (await entries(laptop))[0]?.title).toBe("Session ended");

      expect(await entries(laptop)).toEqual([
        {
          title: "Session ended",
          reason: "Ended from another device",
          where: "Safari 17.2 on iOS 17.2 (Phone) · Phone · IP 127.0.0.1",
          by: "By Firefox 133 on Windows 10 (Desktop) · IP 127.0.0.1",
          current: false,
        },
        {
          title: "Failed sign-in",
          reason: "Wrong password",
          where: "Chrome 131 on Linux (Desktop) · IP 127.0.0.1",
          current: false,
        },
        // One entry for the phone's sign-in, though the log has its login and its new_device.
        {
          title: "Sign-in from a new device",
          reason: null,
          where: "Safari 17.2 on iOS 17.2 (Phone) · IP 127.0.0.1",
          current: false,
        },
        {
          title: "Signed in",
          reason: null,
          where: "Firefox 133 on Windows 10 (Desktop) · IP 127.0.0.1",
          current: true,
        },
      ]);
      expect(await laptop.locator("#activity-list > li.alarming").count()).toBe(2);
      expect(await laptop.getByRole("button", { name: "Show more activity" }).isHidden()).toBe(true);

      // "Sign out all other sessions" and a second device's own sign-out read as such.
      const desk = await signInThroughPage(
        await profile({ userAgent: CHROME_LINUX }),
        t.server.urls.http,
        user,
        "Desk",
      );
      const tablet = await signInThroughPage(await profile(), t.server.urls.http, user, "Tablet");
      tablet.once("dialog", (dialog) => void dialog.accept());
      await Promise.all([
        tablet.waitForURL(/\/account\/sign-in$/),
        tablet.getByRole("button", { name: "Sign out of this device" }).click(),
      ]);
      await laptop.reload();
      laptop.once("dialog", (dialog) => void dialog.accept());
      await laptop.getByRole("button", { name: "Sign out all other sessions" }).click();
      await expect.poll(async () => (await entries(laptop))[0]?.reason).toBe("Signed out everywhere");
      expect((await entries(laptop)).slice(0, 2)).toEqual([
        {
          title: "Session ended",
          reason: "Signed out everywhere",
          where: "Chrome 131 on Linux (Desktop) · Desk · IP 127.0.0.1",
          by: "By Firefox 133 on Windows 10 (Desktop) · IP 127.0.0.1",
          current: false,
        },
        {
          title: "Session ended",
          reason: "Signed out",
          where: expect.stringMatching(/^Chrome \d+ on Linux \(Desktop\) · Tablet · IP 127\.0\.0\.1$/),
          current: false,
        },
      ]);
      expect(await desk.evaluate("fetch('/auth/session').then((r) => r.status)")).toBe(401);

      const html = await laptop.locator("#activity").innerHTML();
      expect(html).not.toMatch(/tss_|tsr_|tsl_|secret123|not-the-password/);
      for (const id of await laptop
        .locator("li.session")
        .evaluateAll((items) => items.map((i) => i.getAttribute("data-session-id")))) {
        expect(html).not.toContain(id);
      }
      await expectAccessible(laptop);
    });

    it("a hostile user agent is shown as text, on the page and after a refresh, and fits a phone", async () => {
      const user = await registerUser(t.server.urls.http, username());
      const long = `${HOSTILE}${"x".repeat(400)}`;
      const hostile = await signInThroughPage(
        await profile({ userAgent: long, viewport: { width: 320, height: 700 }, isMobile: true }),
        t.server.urls.http,
        user,
        "Odd",
      );
      const dialogs: string[] = [];
      hostile.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        void dialog.accept();
      });
      const shown = `Unknown browser “${long.slice(0, 160)}…” · IP 127.0.0.1`;
      expect((await entries(hostile))[0]).toEqual({
        title: "Signed in",
        reason: null,
        where: shown,
        current: true,
      });
      expect(await hostile.locator("#activity img").count()).toBe(0);
      const overflow = () => hostile.evaluate("document.documentElement.scrollWidth - window.innerWidth");
      expect(await overflow()).toBeLessThanOrEqual(0);

      // A second sign-in with that agent as agent and device name, revoked from this page: the
      // list the script fetched and inserted holds both as text too.
      await signInThroughPage(await profile({ userAgent: HOSTILE }), t.server.urls.http, user, HOSTILE);
      await hostile.reload();
      await hostile
        .locator("li.session")
        .filter({ hasNotText: "This device" })
        .getByRole("button", { name: "Sign out" })
        .click();
      await expect.poll(async () => (await entries(hostile))[0]?.title).toBe("Session ended");
      const listed = await entries(hostile);
      expect(listed[0]?.where).toBe(`Unknown browser “${HOSTILE}” · ${HOSTILE} · IP 127.0.0.1`);
      expect(listed[1]?.where).toBe(`Unknown browser “${HOSTILE}” · IP 127.0.0.1`);
      expect(await hostile.locator("#activity img").count()).toBe(0);
      expect(dialogs).toEqual([expect.stringMatching(/^Sign out /)]);
      expect(await overflow()).toBeLessThanOrEqual(0);
    });

    it('"Show more activity" pages through every sign-in once, newest first, and focuses the first new one', async () => {
      const user = await registerUser(t.server.urls.http, username());
      const page = await signInThroughPage(await profile(), t.server.urls.http, user, "Here");
      // 20 probes put probe-0's `new_device` 20th in the log and its login 21st: the two fall
      // on either side of the second page's end, and still make one entry.
      const probes = 20;
      for (let i = 0; i < probes; i += 1) {
        t.server.clock.advance(1000);
        const response = await fetch(`${t.server.urls.http}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": `probe-${i}` },
          body: JSON.stringify(user),
        });
        expect(response.status).toBe(200);
        // probe-0 is a new device: its `new_device` follows it, before probe-1 signs in.
        if (i === 0) await expect.poll(() => eventCount(page, "new_device")).toBe(1);
      }
      await page.reload();
      const more = page.getByRole("button", { name: "Show more activity" });
      const probe = (i: number, title = "Signed in") =>
        `${title}: Unknown browser “probe-${i}” · IP 127.0.0.1`;
      const expected = [
        ...Array.from({ length: probes - 1 }, (_, i) => probe(probes - 1 - i)),
        probe(0, "Sign-in from a new device"),
        expect.stringMatching(/^Signed in: Chrome \d+ on Linux \(Desktop\) · IP 127\.0\.0\.1$/),
      ];
      const shown = async () => (await entries(page)).map((entry) => `${entry.title}: ${entry.where}`);

      expect(await shown()).toEqual(expected.slice(0, 10));
      await more.click();
      await expect.poll(() => page.locator("#activity-list > li").count()).toBe(20);
      expect(await page.evaluate("document.activeElement.textContent")).toContain("probe-9");
      await more.click();
      await expect.poll(() => page.locator("#activity-list > li").count()).toBe(expected.length);
      expect(await shown()).toEqual(expected);
      expect(await more.isHidden()).toBe(true);
      const marks = await entries(page);
      expect(marks.map((entry) => entry.current)).toEqual(expected.map((_, i) => i === expected.length - 1));
      expect(await page.locator("#activity-list > li.alarming").allTextContents()).toEqual([
        expect.stringContaining("probe-0"),
      ]);

      const bad = await page.evaluate(() =>
        fetch("/account/sessions/activity?before=%3Cx%3E", { headers: { accept: "application/json" } }).then(
          (r) => r.json().then((answer) => [r.status, (answer as { error: { code: string } }).error.code]),
        ),
      );
      expect(bad).toEqual([400, "invalid_request"]);
    });

    it("shows times in the reader's locale and time zone", async () => {
      const user = await registerUser(t.server.urls.http, username());
      const context = await profile({ locale: "de-DE", timezoneId: "Asia/Tokyo" });
      const page = await signInThroughPage(context, t.server.urls.http, user, "Hier");
      const time = page.locator("#activity-list time").first();
      const at = new Date(String(await time.getAttribute("datetime")));
      const local = new Intl.DateTimeFormat("de-DE", {
        dateStyle: "medium",
        timeStyle: "short",
        timeZone: "Asia/Tokyo",
      }).format(at);
      expect(await time.textContent()).toBe(local);
      expect(await page.locator("#activity-list .event-time").first().textContent()).toBe(
        `${local} · just now`,
      );
    });
  },
);
