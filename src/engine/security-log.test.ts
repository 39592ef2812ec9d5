import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, makeEngine } from "../../test/kit.js";
import { MemoryStore } from "../stores/memory/memory-store.js";
import type { SessionStore } from "../stores/session-store.js";
import { SqliteStore } from "../stores/sqlite/sqlite-store.js";
import type { Tessera } from "./tessera.js";
import type { SecurityEvent } from "./types.js";

const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const FIREFOX_NEXT = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0";
const SAFARI =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

const stores: [string, () => { store: SessionStore; remove(): void }][] = [
  ["memory", () => ({ store: new MemoryStore(), remove: () => undefined })],
  [
    "SQLite",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "tessera-events-"));
      return {
        store: SqliteStore.open({ path: join(dir, "tessera.db") }),
        remove: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
];

describe.each(stores)("the security log on the %s store", (_name, open) => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function engine(extra: Parameters<typeof makeEngine>[0] = {}) {
    const opened = open();
    const made = await makeEngine({ store: opened.store, ...extra });
    cleanups.push(async () => {
      made.tessera.close();
      await opened.store.close();
      opened.remove();
    });
    return made;
  }

  async function eventsOf(tessera: Tessera, userId?: number): Promise<SecurityEvent[]> {
    await tessera.securityEventsSettled();
    const page = await tessera.listSecurityEvents({
      limit: 100,
      ...(userId === undefined ? {} : { userId }),
    });
    return page.events;
  }

  it("a login, refresh, upgrade and logout are recorded in order with surface and client, and no secret", async () => {
    const { tessera, clock } = await engine();
    const user = await tessera.register({ username: "Ada", password: "secret123" });
    const http = { userAgent: FIREFOX, ipAddress: "192.0.2.7", surface: "http" } as const;
    const pair = await tessera.login({ username: "Ada", password: "secret123", metadata: http });
    clock.advance(1000);
    const refreshed = await tessera.refresh(pair.refreshToken, { metadata: http });
    clock.advance(1000);
    const upgraded = await tessera.upgrade(refreshed.accessToken, { ...http, surface: "socket" });
    await tessera.logout(upgraded.sessionId, http);

    const events = (await eventsOf(tessera, user.id)).reverse();
    expect(events.map((event) => event.kind)).toEqual([
      "login_succeeded",
      "session_created",
      "session_refreshed",
      "session_upgraded",
      "session_revoked",
    ]);
    expect(events[0]).toMatchObject({
      userId: user.id,
      usernameKey: "ada",
      sessionId: pair.sessionId,
      surface: "http",
      ipAddress: "192.0.2.7",
      userAgent: FIREFOX,
      detail: { provider: "password", deviceLabel: "Firefox on Linux" },
    });
    expect(events[3]?.surface).toBe("socket");
    expect(events[4]?.detail).toEqual({ reason: "logout" });
    const ids = events.map((event) => event.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const text = JSON.stringify(events);
    for (const secret of ["secret123", pair.refreshToken, pair.accessToken, refreshed.refreshToken])
      expect(text).not.toContain(secret);
  });

  it("a failed login records the username key and address only, for a known and an unknown name", async () => {
    const { tessera } = await engine();
    const user = await tessera.register({ username: "Bob", password: "secret123" });
    const metadata = { ipAddress: "198.51.100.4" };
    expect(await codeOf(tessera.login({ username: "BOB", password: "wrong-pass", metadata }))).toBe(
      "invalid_credentials",
    );
    expect(await codeOf(tessera.login({ username: "nobody", password: "hunter22", metadata }))).toBe(
      "invalid_credentials",
    );
    const failed = await eventsOf(tessera);
    expect(
      failed.map(({ kind, userId, usernameKey, ipAddress, surface }) => ({
        kind,
        userId,
        usernameKey,
        ipAddress,
        surface,
      })),
    ).toEqual([
      {
        kind: "login_failed",
        userId: null,
        usernameKey: "nobody",
        ipAddress: "198.51.100.4",
        surface: "library",
      },
      {
        kind: "login_failed",
        userId: user.id,
        usernameKey: "bob",
        ipAddress: "198.51.100.4",
        surface: "library",
      },
    ]);
    expect(JSON.stringify(failed)).not.toMatch(/wrong-pass|hunter22/);
  });

  it("logout-all, device takeover, refresh-token reuse and revoke record session_revoked with their reasons", async () => {
    const { tessera, clock } = await engine({ refreshGraceSeconds: 1 });
    const user = await tessera.register({ username: "cy", password: "secret123" });
    const login = (deviceId?: string) =>
      tessera.login({ username: "cy", password: "secret123", ...(deviceId ? { deviceId } : {}) });
    const first = await login("phone");
    const takeover = await login("phone");
    const reused = await login();
    await tessera.refresh(reused.refreshToken);
    clock.advance(2000);
    expect(await codeOf(tessera.refresh(reused.refreshToken))).toBe("refresh_token_reused");
    const revoked = await login();
    await tessera.revokeSession(revoked.sessionId, { ownerId: user.id, reason: "revoked" });
    await tessera.logoutAll(user.id);
    const reasons = (await eventsOf(tessera, user.id))
      .filter((event) => event.kind === "session_revoked")
      .reverse()
      .map((event) => [event.sessionId, event.detail.reason]);
    expect(reasons).toEqual([
      [first.sessionId, "device_replaced"],
      [reused.sessionId, "refresh_token_reused"],
      [revoked.sessionId, "revoked"],
      [takeover.sessionId, "logout_all"],
    ]);
  });

  it("links record link_issued and link_redeemed, and a key rotation records key_rotated", async () => {
    const { tessera } = await engine();
    const user = await tessera.register({ username: "dee", password: "secret123" });
    const link = await tessera.issueLink({ userId: user.id, metadata: { surface: "cli" } });
    const redeemed = await tessera.redeemLink(link.token, { ipAddress: "203.0.113.9", surface: "http" });
    const kid = await tessera.rotateKeys();
    const events = (await eventsOf(tessera)).reverse();
    expect(events.map((event) => event.kind)).toEqual([
      "link_issued",
      "link_redeemed",
      "session_created",
      "key_rotated",
    ]);
    expect(events[0]).toMatchObject({
      userId: user.id,
      surface: "cli",
      detail: { expiresAt: link.expiresAt },
    });
    expect(events[1]).toMatchObject({ sessionId: redeemed.pair.sessionId, ipAddress: "203.0.113.9" });
    expect(events[3]).toMatchObject({ userId: null, detail: { kid } });
  });

  it("new_device follows a login from a browser the user has not used, not a browser update or the first login", async () => {
    const { tessera } = await engine();
    const user = await tessera.register({ username: "eve", password: "secret123" });
    const login = async (userAgent: string | null, deviceId?: string) => {
      await tessera.login({
        username: "eve",
        password: "secret123",
        metadata: { userAgent, ipAddress: "192.0.2.1" },
        ...(deviceId ? { deviceId } : {}),
      });
      await tessera.securityEventsSettled();
    };
    await login(FIREFOX);
    await login(FIREFOX_NEXT);
    await login(SAFARI);
    await login(SAFARI);
    await login(null, "app-install-1");
    await login(null, "app-install-1");
    const newDevices = (await eventsOf(tessera, user.id)).filter((event) => event.kind === "new_device");
    expect(newDevices.map((event) => event.detail.deviceLabel)).toEqual(["device", "Safari on iOS"]);
    expect(newDevices[1]).toMatchObject({ userAgent: SAFARI, ipAddress: "192.0.2.1", userId: user.id });
  });

  it("a password change, disabling and deleting a user record their events and the sessions they end", async () => {
    const { tessera } = await engine();
    const user = await tessera.register({ username: "joe", password: "secret123" });
    const kept = await tessera.login({ username: "joe", password: "secret123" });
    const other = await tessera.login({ username: "joe", password: "secret123" });
    await tessera.changePassword({
      sessionId: kept.sessionId,
      currentPassword: "secret123",
      newPassword: "another-secret",
      metadata: { ipAddress: "192.0.2.44", surface: "http" },
    });
    await tessera.disableUser(user.id);
    await tessera.enableUser(user.id);
    await tessera.deleteUser(user.id);
    const events = (await eventsOf(tessera, user.id))
      .filter((event) => !["login_succeeded", "session_created"].includes(event.kind))
      .reverse()
      .map((event) => [event.kind, event.sessionId, event.detail.reason ?? event.usernameKey]);
    expect(events).toEqual([
      ["password_changed", kept.sessionId, null],
      ["session_revoked", other.sessionId, "password_changed"],
      ["user_disabled", null, null],
      ["session_revoked", kept.sessionId, "user_disabled"],
      ["user_deleted", null, "joe"],
    ]);
  });

  it("filters by kind and time and pages by the next cursor", async () => {
    const { tessera, clock } = await engine();
    await tessera.register({ username: "fay", password: "secret123" });
    const t0 = clock();
    for (let i = 0; i < 5; i++) {
      await tessera.login({ username: "fay", password: "secret123" });
      clock.advance(1000);
    }
    await tessera.securityEventsSettled();
    const first = await tessera.listSecurityEvents({ kinds: ["login_succeeded"], limit: 2 });
    expect(first.events).toHaveLength(2);
    expect(first.next).toBe(first.events[1]?.id);
    const rest = await tessera.listSecurityEvents({
      kinds: ["login_succeeded"],
      limit: 10,
      before: first.next ?? "",
    });
    expect(rest.events).toHaveLength(3);
    expect(rest.next).toBeNull();
    const window = await tessera.listSecurityEvents({
      kinds: ["session_created"],
      since: t0 + 1000,
      until: t0 + 3000,
    });
    expect(window.events.map((event) => Date.parse(event.at) - t0)).toEqual([2000, 1000]);
  });

  it("retention prunes events older than the setting, in bounded batches", async () => {
    const { tessera, clock } = await engine({ securityEvents: { retentionDays: 1 } });
    await tessera.register({ username: "gus", password: "secret123" });
    await tessera.login({ username: "gus", password: "secret123" });
    clock.advance(86_400_000 + 1);
    await tessera.login({ username: "gus", password: "secret123" });
    await tessera.securityEventsSettled();
    expect(await tessera.pruneSecurityEvents()).toBe(2);
    expect((await eventsOf(tessera)).map((event) => event.kind)).toEqual([
      "session_created",
      "login_succeeded",
    ]);
  });

  it("a store that refuses the append never fails the login; the error goes to onBackgroundError", async () => {
    const reported: string[] = [];
    const { tessera, store } = await engine({
      onBackgroundError: (_error, context) => reported.push(context),
    });
    await tessera.register({ username: "hal", password: "secret123" });
    let refusals = 0;
    Object.defineProperty(store, "appendSecurityEvent", {
      value: async () => {
        refusals += 1;
        throw new Error("disk full (injected)");
      },
    });
    const stored: boolean[] = [];
    tessera.onSecurityEvent((_event, ok) => stored.push(ok));
    const pair = await tessera.login({ username: "hal", password: "secret123" });
    expect(pair.sessionId).toBeTruthy();
    await tessera.securityEventsSettled();
    expect(refusals).toBe(2);
    expect(stored).toEqual([false, false]);
    expect(reported).toEqual(["security event", "security event"]);
  });

  it("past the backlog bound events are dropped and reported once, and the flow goes on", async () => {
    const reported: string[] = [];
    const { tessera } = await engine({
      securityEvents: { maxInFlight: 1 },
      onBackgroundError: (error) => reported.push((error as Error).message),
    });
    await tessera.register({ username: "ivy", password: "secret123" });
    const stored: [string, boolean][] = [];
    tessera.onSecurityEvent((event, ok) => stored.push([event.kind, ok]));
    // login_succeeded and session_created are recorded in the same turn: the second waits on no slot.
    await tessera.login({ username: "ivy", password: "secret123" });
    await tessera.securityEventsSettled();
    expect(stored).toEqual([
      ["session_created", false],
      ["login_succeeded", true],
    ]);
    expect(reported).toEqual(["the store is not keeping up; dropping security events"]);
  });
});
