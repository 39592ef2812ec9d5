/**
 * The engine on interface v2: new sessions record their device name, how and when the user
 * proved who they are, and their absolute cap; logout-all is one store step that may keep a
 * session; the engine follows the store's user-wide events and feed resets; and it takes
 * its clock from a shared store.
 */
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, FAST_PASSWORDS, loggedIn, makeEngine } from "../../test/kit.js";
import { EventListeners } from "../stores/event-listeners.js";
import { MemoryStore } from "../stores/memory/memory-store.js";
import type { SessionStore, StoreEvent, StoreEventFeed } from "../stores/session-store.js";
import type { EngineEvent } from "./context.js";
import { Tessera } from "./tessera.js";

const DAY_MS = 24 * 3600 * 1000;

/**
 * A memory store whose feed the test may add events to, as a shared store's feed would
 * deliver them (one `user_sessions_revoked` for a revoke-all, a `reset` after a gap).
 */
type AnnouncingStore = MemoryStore & { announce(event: StoreEvent): void };

function announcingStore(): AnnouncingStore {
  const memory = new MemoryStore();
  const announcer = new EventListeners();
  const events: StoreEventFeed = {
    subscribe(listener) {
      const fromStore = memory.events.subscribe(listener);
      const announced = announcer.subscribe(listener);
      return () => {
        fromStore();
        announced();
      };
    },
    isCurrent: () => memory.events.isCurrent(),
  };
  const announce = (event: StoreEvent): void => announcer.emit([event]);
  return new Proxy(memory, {
    get(target, property) {
      if (property === "events") return events;
      if (property === "announce") return announce;
      const value: unknown = Reflect.get(target, property, target);
      // Bound to the real store: its private fields only work with it as `this`.
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as AnnouncingStore;
}

const engines: Tessera[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

async function engineOn(store: SessionStore, options: Parameters<typeof makeEngine>[0] = {}) {
  const made = await makeEngine({ store, ...options });
  engines.push(made.tessera);
  return made;
}

describe("sessions on interface v2", () => {
  it("a password login records pwd, the login time, the device name and the absolute cap", async () => {
    const { tessera, clock, store } = await engineOn(new MemoryStore(), {
      absoluteLifetimeSeconds: 20 * 24 * 3600,
    });
    await tessera.register({ username: "ada", password: "secret123" });
    const pair = await tessera.login({ username: "ada", password: "secret123", deviceName: "Ada's laptop" });
    const { session } = await tessera.validate(pair.accessToken);
    expect(session).toMatchObject({
      deviceName: "Ada's laptop",
      authMethods: ["pwd"],
      authenticatedAt: new Date(clock()).toISOString(),
    });
    expect((await store.getSession(pair.sessionId))?.maxExpiresAt).toBe(clock() + 20 * DAY_MS);
  });

  it("a device name over 64 characters or with control characters is invalid_request", async () => {
    const { tessera } = await engineOn(new MemoryStore());
    await tessera.register({ username: "ada", password: "secret123" });
    for (const deviceName of ["x".repeat(65), "", "bell\u0007"]) {
      expect(await codeOf(tessera.login({ username: "ada", password: "secret123", deviceName }))).toBe(
        "invalid_request",
      );
    }
    expect(await tessera.listSessions((await tessera.findUser("ada"))?.id ?? 0)).toEqual([]);
  });

  it("refresh and reissue never extend a session past its absolute lifetime", async () => {
    const { tessera, clock } = await engineOn(new MemoryStore(), {
      sessionTtlSeconds: 10 * 24 * 3600,
      absoluteLifetimeSeconds: 15 * 24 * 3600,
      // Days pass between the steps without use; the idle rule is not what this tests.
      idleTimeoutSeconds: 0,
    });
    const { pair } = await loggedIn(tessera);
    const cap = clock() + 15 * DAY_MS;
    clock.advance(8 * DAY_MS);
    const refreshed = await tessera.refresh(pair.refreshToken);
    expect(Date.parse(refreshed.refreshExpiration)).toBe(cap);
    clock.advance(DAY_MS);
    const reissued = await tessera.reissue(pair.sessionId);
    expect(Date.parse(reissued.refreshExpiration)).toBe(cap);
    clock.set(cap);
    expect(await codeOf(tessera.refresh(reissued.refreshToken))).toBe("token_expired");
  });

  it("a redeemed link's session records link as its method", async () => {
    const { tessera } = await engineOn(new MemoryStore());
    const { user } = await loggedIn(tessera);
    const link = await tessera.issueLink({ userId: user.id });
    const redeemed = await tessera.redeemLink(link.token);
    expect(redeemed.session.authMethods).toEqual(["link"]);
  });

  it("a login hook that refuses a link's session leaves the link unused", async () => {
    const { tessera } = await engineOn(new MemoryStore());
    const { user } = await loggedIn(tessera);
    const link = await tessera.issueLink({ userId: user.id });
    const stop = tessera.hook("login", () => {
      throw new Error("not now");
    });
    expect(await codeOf(tessera.redeemLink(link.token))).toBe("internal_error");
    stop();
    expect((await tessera.redeemLink(link.token)).session.userId).toBe(user.id);
  });
});

describe("logout-all on interface v2", () => {
  it("logout-all may keep the current session", async () => {
    const { tessera } = await engineOn(new MemoryStore());
    const { pair, username } = await loggedIn(tessera);
    const other = await tessera.login({ username, password: "secret123" });
    expect(await tessera.logoutAll(pair.user.id, { keepSessionId: pair.sessionId })).toBe(1);
    await expect(tessera.validate(pair.accessToken)).resolves.toBeTruthy();
    expect(await codeOf(tessera.validate(other.accessToken))).toBe("token_revoked");
  });

  it("logout-all racing twenty logins leaves no session live that listSessions does not show", async () => {
    const { tessera } = await engineOn(new MemoryStore());
    const { pair, username } = await loggedIn(tessera);
    const logins = Array.from({ length: 20 }, () => tessera.login({ username, password: "secret123" }));
    const [ended, ...pairs] = await Promise.all([tessera.logoutAll(pair.user.id), ...logins]);
    const listed = new Set((await tessera.listSessions(pair.user.id)).map((s) => s.id));
    let live = 0;
    for (const made of pairs) {
      const alive = await tessera.validate(made.accessToken).then(
        () => true,
        () => false,
      );
      expect(alive).toBe(listed.has(made.sessionId));
      if (alive) live += 1;
    }
    expect(ended + live).toBe(21);
  });
});

describe("store events of interface v2", () => {
  it("user_sessions_revoked turns the user's cached sessions into tombstones but the kept one", async () => {
    const store = announcingStore();
    const { tessera } = await engineOn(store);
    const { pair, username } = await loggedIn(tessera);
    const kept = await tessera.upgrade(pair.accessToken);
    const other = await tessera.upgrade(
      (await tessera.login({ username, password: "secret123" })).accessToken,
    );
    await tessera.validate(kept.accessToken);
    await tessera.validate(other.accessToken);
    const heard: EngineEvent[] = [];
    tessera.subscribe((event) => heard.push(event));
    // The cache answers without the store: only the event can make it refuse.
    store.announce({
      kind: "user_sessions_revoked",
      userId: pair.user.id,
      reason: "logout_all",
      keepSessionId: kept.sessionId,
    });
    expect(await codeOf(tessera.validate(other.accessToken))).toBe("token_revoked");
    await expect(tessera.validate(kept.accessToken)).resolves.toBeTruthy();
    expect(heard).toEqual([
      {
        type: "user_sessions_ended",
        userId: pair.user.id,
        reason: "logout_all",
        keepSessionId: kept.sessionId,
      },
    ]);
  });

  it("user_updated drops the user's cached sessions, so the next validation reads the store", async () => {
    const store = announcingStore();
    const { tessera } = await engineOn(store);
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    await tessera.validate(upgraded.accessToken);
    // A change the cache cannot know of, made behind the engine's back.
    await store.deleteUser(pair.user.id, Date.now(), Date.now() + 60_000);
    store.announce({ kind: "user_updated", userId: pair.user.id });
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_revoked");
  });

  it("reset flushes the caches and reloads the denylist", async () => {
    const store = announcingStore();
    const { tessera, clock } = await engineOn(store);
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    await tessera.validate(upgraded.accessToken);
    const jwt = await tessera.login({ username: pair.user.username, password: "secret123" });
    await tessera.validate(jwt.accessToken);
    // Revocations whose events were lost: only a reset can make this engine see them.
    await store.revokeSessions([upgraded.sessionId, jwt.sessionId], "admin", clock(), clock() + 3_600_000);
    const heard: EngineEvent[] = [];
    tessera.subscribe((event) => heard.push(event));
    store.announce({ kind: "reset" });
    expect(heard).toEqual([{ type: "reset" }]);
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.validate(jwt.accessToken))).toBe("token_revoked");
  });
});

describe("the engine's clock", () => {
  it("without an injected clock the engine takes now from the store's clock", async () => {
    const store = new (class extends MemoryStore {
      readonly clock = (): number => Date.UTC(2030, 0, 1);
    })();
    const tessera = await Tessera.create({ store, passwords: FAST_PASSWORDS });
    engines.push(tessera);
    await tessera.register({ username: "ada", password: "secret123" });
    const pair = await tessera.login({ username: "ada", password: "secret123" });
    expect((await store.getSession(pair.sessionId))?.createdAt).toBe(Date.UTC(2030, 0, 1));
  });
});
