import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeEngine } from "../../../../test/kit.js";
import { securityEvent } from "../../../stores/conformance/fixture.js";
import type { SecurityEventRecord } from "../../../stores/session-store.js";
import { ACTIVITY_PAGE, activityFragment, loadActivity } from "./activity.js";

const FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const CHROME =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/** An entry's lines as a person reads them (tags dropped, entities decoded). */
function entries(html: string): { lines: string[]; alarming: boolean }[] {
  return html
    .split("<li ")
    .slice(1)
    .map((item) => ({
      alarming: item.startsWith('class="event alarming"'),
      lines: `<li ${item}`
        .split("</p>")
        .map((line) =>
          line
            .replace(/<[^>]*>/g, "")
            .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
            .trim(),
        )
        .filter((line) => line !== "" && !line.includes("UTC ·")),
    }));
}

describe("the sessions page's recent activity", () => {
  it("names each way a session ended, the ended session and who ended it, newest first across pages", async () => {
    const { tessera, clock } = await makeEngine();
    const password = "secret123";
    const user = await tessera.register({ username: "ada", password });
    const at = (userAgent: string, ipAddress: string) => ({ metadata: { userAgent, ipAddress } });
    for (const ip of ["203.0.113.1", "203.0.113.2"]) {
      await expect(
        tessera.login({ username: "ada", password: "guess", ...at("curl/8.5.0", ip) }),
      ).rejects.toThrow();
      clock.advance(1000);
    }
    const laptop = await tessera.login({
      username: "ada",
      password,
      deviceName: "Laptop",
      ...at(FIREFOX, "198.51.100.7"),
    });
    const phone = await tessera.login({ username: "ada", password, ...at(IPHONE, "198.51.100.8") });
    const desk = await tessera.login({ username: "ada", password, ...at(CHROME, "198.51.100.9") });
    const spare = await tessera.login({ username: "ada", password, ...at(CHROME, "198.51.100.10") });
    const other = await tessera.login({ username: "ada", password, ...at(CHROME, "198.51.100.11") });

    await tessera.refresh(phone.refreshToken);
    clock.advance(60_000);
    await expect(tessera.refresh(phone.refreshToken, at("curl/8.5.0", "203.0.113.9"))).rejects.toMatchObject({
      code: "refresh_token_reused",
    });
    await tessera.revokeSession(desk.sessionId, { reason: "revoked_by_admin", metadata: { surface: "cli" } });
    await tessera.revokeSession(other.sessionId, { reason: "fraud_check" });
    await tessera.changePassword({
      sessionId: laptop.sessionId,
      currentPassword: password,
      newPassword: "another-secret",
      ...at(FIREFOX, "198.51.100.7"),
    });
    await tessera.securityEventsSettled();

    let html = "";
    let before: string | undefined;
    let pages = 0;
    do {
      const page = await loadActivity(tessera, user.id, before);
      expect(page.events.length).toBeLessThanOrEqual(ACTIVITY_PAGE);
      html += activityFragment({ ...page, currentSessionId: laptop.sessionId, now: clock() });
      before = page.next ?? undefined;
      pages += 1;
    } while (before !== undefined);
    expect(pages).toBe(2);
    expect(html.split("<li ").length - 1).toBe(12);

    const chrome = (ip: string) => `Chrome 131 on Linux (Desktop) · IP ${ip}`;
    const byLaptop = "By Firefox 133 on Windows 10 (Desktop) · IP 198.51.100.7";
    expect(entries(html)).toEqual([
      { alarming: false, lines: ["Session ended", "Password changed", chrome("198.51.100.10"), byLaptop] },
      {
        alarming: false,
        lines: ["Password changed This session", "Firefox 133 on Windows 10 (Desktop) · IP 198.51.100.7"],
      },
      { alarming: false, lines: ["Session ended", "Reason: fraud check", chrome("198.51.100.11")] },
      {
        alarming: false,
        lines: ["Session ended", "Ended by an administrator", chrome("198.51.100.9"), "By the command line"],
      },
      {
        alarming: true,
        lines: [
          "Session ended",
          "Refresh token reused — possible theft",
          "Safari 17.2 on iOS 17.2 (Phone) · IP 198.51.100.8",
          "By Unknown browser “curl/8.5.0” · IP 203.0.113.9",
        ],
      },
      { alarming: false, lines: ["Signed in", chrome("198.51.100.11")] },
      { alarming: false, lines: ["Signed in", chrome("198.51.100.10")] },
      // One entry per sign-in: the phone's `new_device` and its login were the 10th and 11th events.
      { alarming: true, lines: ["Sign-in from a new device", chrome("198.51.100.9")] },
      {
        alarming: true,
        lines: ["Sign-in from a new device", "Safari 17.2 on iOS 17.2 (Phone) · IP 198.51.100.8"],
      },
      {
        alarming: false,
        lines: ["Signed in This session", "Firefox 133 on Windows 10 (Desktop) · IP 198.51.100.7"],
      },
      {
        alarming: true,
        lines: ["Failed sign-in", "Wrong password", "Unknown browser “curl/8.5.0” · IP 203.0.113.2"],
      },
      {
        alarming: true,
        lines: ["Failed sign-in", "Wrong password", "Unknown browser “curl/8.5.0” · IP 203.0.113.1"],
      },
    ]);
    for (const secret of [laptop, phone, desk, spare, other].flatMap((pair) => [
      pair.sessionId,
      pair.accessToken,
      pair.refreshToken,
    ])) {
      expect(html).not.toContain(secret);
    }
  });

  it("shows each sign-in once, wherever its new_device falls, on every page and across pages", async () => {
    // A log written straight into a real store: sign-ins (some followed by their `new_device`
    // after up to `lag` later events), failed sign-ins and ended sessions, paged through.
    const step = fc.record({
      kind: fc.constantFrom("login", "login", "failed", "revoked"),
      newDevice: fc.boolean(),
      lag: fc.nat({ max: 14 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 45, size: "max" }), fc.nat(), async (steps, pick) => {
        const { tessera, store } = await makeEngine();
        const log: SecurityEventRecord[] = [];
        const expected: { title: string; current: boolean }[] = [];
        const waiting: { sessionId: string; after: number }[] = [];
        const sessions = steps.flatMap((_, i) => (steps[i]?.kind === "login" ? [`s${i}`] : []));
        const current = sessions.length === 0 ? "none" : (sessions[pick % sessions.length] ?? "none");
        const append = (kind: string, sessionId: string | null, detail: SecurityEventRecord["detail"] = {}) =>
          log.push(securityEvent(Date.UTC(2026, 0, 1) + log.length, { kind, userId: 1, sessionId, detail }));
        steps.forEach(({ kind, newDevice, lag }, i) => {
          if (kind === "login") {
            append("login_succeeded", `s${i}`, { provider: "password" });
            if (newDevice) waiting.push({ sessionId: `s${i}`, after: lag });
            expected.push({
              title: newDevice ? "Sign-in from a new device" : "Signed in",
              current: `s${i}` === current,
            });
          } else if (kind === "failed") {
            append("login_failed", null, { reason: "invalid_credentials" });
            expected.push({ title: "Failed sign-in", current: false });
          } else {
            const ended = sessions[i % Math.max(1, sessions.length)] ?? null;
            append("session_revoked", ended, { reason: "revoked" });
            expected.push({ title: "Session ended", current: ended === current });
          }
          for (const pair of waiting.splice(0)) {
            if (pair.after === 0 || i === steps.length - 1) append("new_device", pair.sessionId);
            else waiting.push({ ...pair, after: pair.after - 1 });
          }
        });
        for (const event of log) await store.appendSecurityEvent(event);

        const shown: { title: string; current: boolean }[] = [];
        let before: string | undefined;
        do {
          const page = await loadActivity(tessera, 1, before);
          const html = activityFragment({ ...page, currentSessionId: current, now: Date.UTC(2026, 0, 2) });
          const items = entries(html);
          if (page.next !== null) expect(items.length).toBeGreaterThanOrEqual(ACTIVITY_PAGE);
          shown.push(
            ...items.map(({ lines }) => ({
              title: (lines[0] ?? "").replace(/ This session$/, ""),
              current: (lines[0] ?? "").endsWith(" This session"),
            })),
          );
          before = page.next ?? undefined;
        } while (before !== undefined);
        expect(shown).toEqual(expected.reverse());
      }),
      { numRuns: 60 },
    );
  });

  it("clips a long unknown user agent at a whole character, never between a surrogate pair's halves", async () => {
    const { tessera, clock } = await makeEngine();
    await tessera.register({ username: "ada", password: "secret123" });
    const user = await tessera.login({ username: "ada", password: "secret123" });
    // 159 units, then an emoji (two units) across the 160-unit clip.
    const agent = `${"x".repeat(159)}\u{1f600}${"y".repeat(20)}`;
    await tessera.login({ username: "ada", password: "secret123", metadata: { userAgent: agent } });
    await tessera.securityEventsSettled();
    const page = await loadActivity(tessera, user.user.id);
    const html = activityFragment({ ...page, currentSessionId: user.sessionId, now: clock() });
    const decoded = html.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
    // No lone half of a surrogate pair anywhere (the page's text is well-formed UTF-16).
    expect(decoded).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    expect(decoded).toContain(`Unknown browser “${"x".repeat(159)}…”`);
  });
});
