/**
 * The one test suite every `SessionStore` must pass, so that the engine can rely on the
 * interface alone. Each store's test file calls `describeSessionStoreConformance` with a
 * function that opens a fresh, empty store.
 *
 * The suite checks every operation and every outcome the interface documents, including
 * who wins a race (many concurrent calls through `Promise.all`) and that events reach
 * subscribers. Digests are random strings: a store never interprets them.
 */

import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  CreateSessionInput,
  JsonValue,
  NewLink,
  NewUser,
  RotateOutcome,
  RotateRefreshInput,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
  StoreEvent,
  UpgradeOutcome,
  UpgradeSessionInput,
  UserRecord,
} from "./session-store.js";

export interface OpenedStore {
  /** A fresh, empty store. The suite closes it after each test. */
  readonly store: SessionStore;
  /** Opens the same data again, as a restarted process would; absent for stores that forget. */
  readonly reopen?: () => Promise<SessionStore>;
  /** Removes whatever `open` made (files, schemas); called after the store is closed. */
  readonly cleanup: () => Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** How many callers race in the concurrency tests. */
const RACERS = 20;

const digest = (): string => randomBytes(32).toString("base64url");
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Listener {
  readonly events: StoreEvent[];
  readonly stop: () => void;
}

function listen(store: SessionStore): Listener {
  const events: StoreEvent[] = [];
  const stop = store.events.subscribe((event) => events.push(event));
  return { events, stop };
}

/** Waits up to a second for a matching event; feeds that poll need a moment. */
async function waitForEvent(events: readonly StoreEvent[], match: (event: StoreEvent) => boolean) {
  const deadline = Date.now() + 1000;
  for (;;) {
    const found = events.find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("no matching event within 1 s");
    await sleep(5);
  }
}

const revocationOf =
  (sessionId: string) =>
  (event: StoreEvent): boolean =>
    event.kind === "session_revoked" && event.sessionId === sessionId;

const denialOf =
  (id: string) =>
  (event: StoreEvent): boolean =>
    event.kind === "denied" && event.entry.id === id;

function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, got ${items.length}`);
  return items[0] as T;
}

export function describeSessionStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} conforms to SessionStore`, () => {
    let opened: OpenedStore;
    let store: SessionStore;
    /** "Now" for each test; records are placed around it. */
    let t0: number;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
      t0 = Date.now();
    });

    afterEach(async () => {
      await store.close();
      await opened.cleanup();
    });

    function newUser(overrides: Partial<NewUser> = {}): NewUser {
      const username = `User-${randomUUID()}`;
      return {
        uuid: randomUUID(),
        username,
        usernameKey: username.toLowerCase(),
        passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        createdAt: t0,
        ...overrides,
      };
    }

    async function addUser(target: SessionStore = store): Promise<UserRecord> {
      const user = await target.createUser(newUser());
      if (user === null) throw new Error("could not create a user");
      return user;
    }

    interface SessionOptions {
      readonly deviceId?: string | null;
      readonly createdAt?: number;
      readonly expiresAt?: number;
      readonly refreshExpiresAt?: number;
      readonly data?: JsonValue;
    }

    function newSession(userId: number, options: SessionOptions = {}): CreateSessionInput {
      const id = randomUUID();
      const createdAt = options.createdAt ?? t0;
      const expiresAt = options.expiresAt ?? createdAt + DAY;
      return {
        session: {
          id,
          userId,
          deviceId: options.deviceId ?? null,
          createdAt,
          lastSeenAt: createdAt,
          expiresAt,
          tokenType: "jwt",
          metadata: { userAgent: "conformance/1.0", ipAddress: "192.0.2.7" },
          data: options.data ?? { role: "member" },
          sessionTokenHash: null,
        },
        refreshToken: {
          hash: digest(),
          sessionId: id,
          createdAt,
          expiresAt: options.refreshExpiresAt ?? expiresAt,
        },
      };
    }

    /** Creates a session; returns it with the digest of its first refresh token. */
    async function addSession(userId: number, options: SessionOptions = {}) {
      const input = newSession(userId, options);
      const { session } = await store.createSession(input);
      return { session, refreshHash: input.refreshToken.hash };
    }

    function rotation(
      oldHash: string,
      options: { readonly now?: number; readonly sessionTokenHash?: string } = {},
    ): RotateRefreshInput {
      const now = options.now ?? t0;
      return {
        oldHash,
        successor: { hash: digest(), createdAt: now, expiresAt: now + DAY },
        sealedSuccessor: digest(),
        sessionTokenHash: options.sessionTokenHash ?? null,
        expiresAt: now + DAY,
        now,
      };
    }

    function upgrade(
      sessionId: string,
      options: { readonly jti?: string; readonly now?: number } = {},
    ): UpgradeSessionInput {
      const now = options.now ?? t0;
      return {
        sessionId,
        jti: options.jti ?? randomUUID(),
        jtiExpiresAt: now + 15 * MINUTE,
        sessionTokenHash: digest(),
        refreshToken: { hash: digest(), sessionId, createdAt: now, expiresAt: now + DAY },
        now,
      };
    }

    function newLink(userId: number, overrides: Partial<NewLink> = {}): NewLink {
      return {
        hash: digest(),
        userId,
        issuedBySessionId: null,
        data: null,
        redirectTo: null,
        confirm: false,
        provider: null,
        deviceId: null,
        createdAt: t0,
        expiresAt: t0 + 15 * MINUTE,
        ...overrides,
      };
    }

    function signingKey(overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
      return {
        kid: randomUUID(),
        alg: "EdDSA",
        privateJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", d: digest(), x: digest() }),
        publicJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: digest() }),
        createdAt: t0,
        retiredAt: null,
        ...overrides,
      };
    }

    describe("users", () => {
      it("a created user gets a positive integer id and is found by key and by id", async () => {
        const input = newUser();
        const user = await store.createUser(input);
        expect(user).toEqual({ ...input, id: expect.any(Number) });
        expect(Number.isInteger(user?.id) && (user?.id ?? 0) > 0).toBe(true);
        expect(await store.findUserByUsernameKey(input.usernameKey)).toEqual(user);
        expect(await store.findUserById(user?.id ?? 0)).toEqual(user);
      });

      it("a user without a password keeps a null password hash", async () => {
        const user = await store.createUser(newUser({ passwordHash: null }));
        expect((await store.findUserById(user?.id ?? 0))?.passwordHash).toBeNull();
      });

      it("creating a user with a taken username key returns null and keeps the first user", async () => {
        const first = await addUser();
        const second = await store.createUser(newUser({ usernameKey: first.usernameKey, username: "Other" }));
        expect(second).toBeNull();
        expect(await store.findUserByUsernameKey(first.usernameKey)).toEqual(first);
      });

      it("of twenty concurrent creates with one username key exactly one succeeds", async () => {
        const key = `racer-${randomUUID()}`;
        const results = await Promise.all(
          Array.from({ length: RACERS }, () => store.createUser(newUser({ usernameKey: key }))),
        );
        const winner = only(
          results.filter((user) => user !== null),
          "created user",
        );
        expect(await store.findUserByUsernameKey(key)).toEqual(winner);
      });

      it("looking up an unknown user gives null", async () => {
        expect(await store.findUserByUsernameKey("nobody")).toBeNull();
        expect(await store.findUserById(987_654)).toBeNull();
      });

      it("listUsers returns users in id order and honours limit and offset", async () => {
        const users: UserRecord[] = [];
        for (let i = 0; i < 5; i++) users.push(await addUser());
        expect(await store.listUsers()).toEqual(users);
        expect(await store.listUsers({ limit: 2, offset: 1 })).toEqual(users.slice(1, 3));
        expect(await store.listUsers({ offset: 4 })).toEqual(users.slice(4));
        expect(await store.listUsers({ limit: 0 })).toEqual([]);
      });
    });

    describe("sessions", () => {
      it("a created session reads back exactly, with its data, by id", async () => {
        const user = await addUser();
        const input = newSession(user.id, {
          deviceId: "phone",
          data: { cart: [1, "two", null], nested: { ok: true } },
        });
        const created = await store.createSession(input);
        const expected: SessionRecord = { ...input.session, revokedAt: null, revokedReason: null };
        expect(created).toEqual({ session: expected, replaced: [] });
        expect(await store.getSession(input.session.id)).toEqual(expected);
      });

      it("the store keeps its own copy of session data", async () => {
        const user = await addUser();
        const data = { tags: ["a"] };
        const input = newSession(user.id, { data });
        const { session } = await store.createSession(input);
        data.tags.push("changed after create");
        const read = await store.getSession(session.id);
        if (read !== null) (read.data as { tags: string[] }).tags.push("changed after read");
        expect((await store.getSession(session.id))?.data).toEqual({ tags: ["a"] });
      });

      it("an unknown session id gives null", async () => {
        expect(await store.getSession(randomUUID())).toBeNull();
      });

      it("creating a session for an unknown user rejects", async () => {
        await expect(store.createSession(newSession(987_654))).rejects.toThrow();
      });

      it("creating a session with an existing id rejects and replaces nothing", async () => {
        const user = await addUser();
        const { session: first } = await addSession(user.id, { deviceId: "phone" });
        const clash = newSession(user.id, { deviceId: "phone", createdAt: t0 + 1 });
        const input: CreateSessionInput = {
          session: { ...clash.session, id: first.id },
          refreshToken: { ...clash.refreshToken, sessionId: first.id },
        };
        await expect(store.createSession(input)).rejects.toThrow();
        expect(await store.getSession(first.id)).toEqual(first);
      });

      it("a session with a device revokes the other live sessions of that user and device", async () => {
        const user = await addUser();
        const otherUser = await addUser();
        // Created first: as the newer session of the device it would otherwise replace `old`.
        const { session: ended } = await addSession(user.id, {
          deviceId: "phone",
          createdAt: t0 - 2 * DAY,
          expiresAt: t0 - DAY,
        });
        const { session: old } = await addSession(user.id, { deviceId: "phone" });
        const { session: otherDevice } = await addSession(user.id, { deviceId: "laptop" });
        const { session: noDevice } = await addSession(user.id);
        const { session: otherUsers } = await addSession(otherUser.id, { deviceId: "phone" });

        const input = newSession(user.id, { deviceId: "phone", createdAt: t0 + 1000 });
        const { replaced } = await store.createSession(input);

        expect(replaced).toEqual([old.id]);
        expect(await store.getSession(old.id)).toEqual({
          ...old,
          revokedAt: t0 + 1000,
          revokedReason: "device_replaced",
        });
        expect(await store.listDenylist(t0)).toContainEqual({
          id: `sid:${old.id}`,
          expiresAt: old.expiresAt,
        });
        for (const untouched of [ended, otherDevice, noDevice, otherUsers]) {
          expect(await store.getSession(untouched.id)).toEqual(untouched);
        }
      });

      it("replacing a device session emits session_revoked and denied events", async () => {
        const user = await addUser();
        const { session: old } = await addSession(user.id, { deviceId: "phone" });
        const listener = listen(store);
        await store.createSession(newSession(user.id, { deviceId: "phone", createdAt: t0 + 1 }));
        expect(await waitForEvent(listener.events, revocationOf(old.id))).toEqual({
          kind: "session_revoked",
          sessionId: old.id,
          userId: user.id,
          reason: "device_replaced",
        });
        expect(await waitForEvent(listener.events, denialOf(`sid:${old.id}`))).toEqual({
          kind: "denied",
          entry: { id: `sid:${old.id}`, expiresAt: old.expiresAt },
        });
      });

      it("sessions without a device replace nothing", async () => {
        const user = await addUser();
        const { session: first } = await addSession(user.id);
        const { replaced } = await store.createSession(newSession(user.id, { createdAt: t0 + 1 }));
        expect(replaced).toEqual([]);
        expect((await store.getSession(first.id))?.revokedAt).toBeNull();
      });

      it("of concurrent creates for one device exactly one session stays live", async () => {
        const user = await addUser();
        const results = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            store.createSession(newSession(user.id, { deviceId: "tablet", createdAt: t0 + i })),
          ),
        );
        const live = await store.listSessions(user.id, t0 + 10);
        only(live, "live session");
        const replaced = results.flatMap((result) => result.replaced);
        expect(new Set(replaced).size).toBe(4);
        expect(replaced).not.toContain(live[0]?.id);
      });

      it("findSessionByTokenHash finds an upgraded session, even after it is revoked", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const input = upgrade(session.id);
        await store.upgradeSession(input);
        expect((await store.findSessionByTokenHash(input.sessionTokenHash))?.id).toBe(session.id);
        await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
        const found = await store.findSessionByTokenHash(input.sessionTokenHash);
        expect(found?.id).toBe(session.id);
        expect(found?.revokedAt).toBe(t0);
      });

      it("findSessionByTokenHash gives null for an unknown digest", async () => {
        expect(await store.findSessionByTokenHash(digest())).toBeNull();
      });

      it("listSessions returns only the user's live sessions, newest first", async () => {
        const user = await addUser();
        const otherUser = await addUser();
        const { session: oldest } = await addSession(user.id, { createdAt: t0 - 3000 });
        const { session: newest } = await addSession(user.id, { createdAt: t0 - 1000 });
        const { session: middle } = await addSession(user.id, { createdAt: t0 - 2000 });
        const { session: revoked } = await addSession(user.id, { createdAt: t0 - 500 });
        await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
        await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
        await addSession(otherUser.id);
        const listed = await store.listSessions(user.id, t0);
        expect(listed.map((s) => s.id)).toEqual([newest.id, middle.id, oldest.id]);
        expect(listed[0]).toEqual(newest);
        expect(await store.listSessions(987_654, t0)).toEqual([]);
      });

      it("listAllSessions returns the live sessions of every user, newest first, up to the limit", async () => {
        const alice = await addUser();
        const bob = await addUser();
        const { session: a1 } = await addSession(alice.id, { createdAt: t0 - 3000 });
        const { session: b1 } = await addSession(bob.id, { createdAt: t0 - 2000 });
        const { session: a2 } = await addSession(alice.id, { createdAt: t0 - 1000 });
        await addSession(bob.id, { createdAt: t0 - DAY, expiresAt: t0 - 1 });
        const all = await store.listAllSessions(t0);
        expect(all.map((s) => s.id)).toEqual([a2.id, b1.id, a1.id]);
        expect((await store.listAllSessions(t0, { limit: 2 })).map((s) => s.id)).toEqual([a2.id, b1.id]);
      });

      it("touchSession only ever moves lastSeenAt forward", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        await store.touchSession(session.id, t0 + 5000);
        expect((await store.getSession(session.id))?.lastSeenAt).toBe(t0 + 5000);
        await store.touchSession(session.id, t0 + 1000);
        expect((await store.getSession(session.id))?.lastSeenAt).toBe(t0 + 5000);
      });

      it("touching an unknown session does nothing", async () => {
        await expect(store.touchSession(randomUUID(), t0)).resolves.toBeUndefined();
      });

      it("updateSessionData replaces the data of a live session and emits session_updated", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id, { data: { theme: "light", extra: 1 } });
        const listener = listen(store);
        const data: JsonValue = { theme: "dark", emoji: "🔑", list: [1, 2.5, null, false] };
        const updated = await store.updateSessionData(session.id, data, t0);
        expect(updated).toEqual({ ...session, data });
        expect(await store.getSession(session.id)).toEqual({ ...session, data });
        expect(await waitForEvent(listener.events, (e) => e.kind === "session_updated")).toEqual({
          kind: "session_updated",
          sessionId: session.id,
        });
      });

      it("updateSessionData gives null for revoked, expired and unknown sessions", async () => {
        const user = await addUser();
        const { session: revoked } = await addSession(user.id);
        await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
        const { session: expired } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
        expect(await store.updateSessionData(revoked.id, { x: 1 }, t0)).toBeNull();
        expect(await store.updateSessionData(expired.id, { x: 1 }, t0)).toBeNull();
        expect(await store.updateSessionData(randomUUID(), { x: 1 }, t0)).toBeNull();
        expect((await store.getSession(revoked.id))?.data).toEqual({ role: "member" });
      });
    });

    describe("revocation and the denylist", () => {
      it("revokeSessions revokes, denylists each sid until denyUntil and returns what it revoked", async () => {
        const user = await addUser();
        const { session: one } = await addSession(user.id);
        const { session: two } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 - 1 });
        const revoked = await store.revokeSessions([one.id, two.id, one.id], "logout_all", t0, t0 + HOUR);
        const expected = [one, two].map((s) => ({ ...s, revokedAt: t0, revokedReason: "logout_all" }));
        expect(revoked).toEqual(expected);
        expect(await store.getSession(one.id)).toEqual(expected[0]);
        expect(await store.getSession(two.id)).toEqual(expected[1]);
        const denylist = await store.listDenylist(t0);
        expect(denylist).toContainEqual({ id: `sid:${one.id}`, expiresAt: t0 + HOUR });
        expect(denylist).toContainEqual({ id: `sid:${two.id}`, expiresAt: t0 + HOUR });
      });

      it("revoking again leaves revoked sessions as they were and unknown ids are ignored", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
        const again = await store.revokeSessions([session.id, randomUUID()], "admin", t0 + 5000, t0 + DAY);
        expect(again).toEqual([]);
        expect(await store.getSession(session.id)).toMatchObject({ revokedAt: t0, revokedReason: "logout" });
      });

      it("revocation emits session_revoked with the user and reason, and denied for the sid", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const listener = listen(store);
        await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
        expect(await waitForEvent(listener.events, revocationOf(session.id))).toEqual({
          kind: "session_revoked",
          sessionId: session.id,
          userId: user.id,
          reason: "logout",
        });
        expect(await waitForEvent(listener.events, denialOf(`sid:${session.id}`))).toEqual({
          kind: "denied",
          entry: { id: `sid:${session.id}`, expiresAt: t0 + HOUR },
        });
      });

      it("revoking an already revoked session emits nothing more", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const { session: marker } = await addSession(user.id);
        await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
        const listener = listen(store);
        await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
        // Events arrive in order, so once the marker's arrives the first one would have too.
        await store.revokeSessions([marker.id], "logout", t0, t0 + HOUR);
        await waitForEvent(listener.events, revocationOf(marker.id));
        expect(listener.events.filter(revocationOf(session.id))).toEqual([]);
      });

      it("listDenylist returns only entries that have not expired", async () => {
        const user = await addUser();
        const { session: long } = await addSession(user.id);
        const { session: short } = await addSession(user.id);
        await store.revokeSessions([long.id], "logout", t0, t0 + HOUR);
        await store.revokeSessions([short.id], "logout", t0, t0);
        const ids = (await store.listDenylist(t0)).map((entry) => entry.id);
        expect(ids).toContain(`sid:${long.id}`);
        expect(ids).not.toContain(`sid:${short.id}`);
        expect(await store.listDenylist(t0 + HOUR)).toEqual([]);
      });
    });

    describe("refresh token rotation", () => {
      it("rotation spends the old token, inserts the successor and extends the session", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id, { expiresAt: t0 + HOUR });
        const input = rotation(refreshHash, { now: t0 + MINUTE });
        const outcome = await store.rotateRefreshToken(input);
        const extended: SessionRecord = { ...session, expiresAt: input.expiresAt };
        expect(outcome).toEqual({ kind: "rotated", session: extended });
        expect(await store.getSession(session.id)).toEqual(extended);
        const next = await store.rotateRefreshToken(rotation(input.successor.hash, { now: t0 + 2 * MINUTE }));
        expect(next.kind).toBe("rotated");
      });

      it("rotation sets the session token digest when one is given and keeps it otherwise", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const up = upgrade(session.id);
        await store.upgradeSession(up);
        const newHash = digest();
        const first = rotation(up.refreshToken.hash, { sessionTokenHash: newHash });
        const rotated = await store.rotateRefreshToken(first);
        expect(rotated.kind === "rotated" && rotated.session.sessionTokenHash).toBe(newHash);
        expect((await store.findSessionByTokenHash(newHash))?.id).toBe(session.id);
        expect(await store.findSessionByTokenHash(up.sessionTokenHash)).toBeNull();
        const second = await store.rotateRefreshToken(rotation(first.successor.hash));
        expect(second.kind === "rotated" && second.session.sessionTokenHash).toBe(newHash);
      });

      it("rotation limited to one session refuses another session's token as not_found and spends nothing", async () => {
        const user = await addUser();
        const mine = await addSession(user.id);
        const theirs = await addSession(user.id);
        const foreign = await store.rotateRefreshToken({
          ...rotation(theirs.refreshHash),
          sessionId: mine.session.id,
        });
        expect(foreign).toEqual({ kind: "not_found" });
        // Not spent: its owner still rotates it.
        expect((await store.rotateRefreshToken(rotation(theirs.refreshHash))).kind).toBe("rotated");
        const own = await store.rotateRefreshToken({
          ...rotation(mine.refreshHash),
          sessionId: mine.session.id,
        });
        expect(own.kind).toBe("rotated");
      });

      it("rotation of a jwt session ignores a session token digest and keeps it null", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        const outcome = await store.rotateRefreshToken(rotation(refreshHash, { sessionTokenHash: digest() }));
        expect(outcome.kind === "rotated" && outcome.session.sessionTokenHash).toBeNull();
        expect((await store.getSession(session.id))?.sessionTokenHash).toBeNull();
      });

      it("the successor belongs to the spent token's session", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        await addSession(user.id);
        const first = rotation(refreshHash);
        await store.rotateRefreshToken(first);
        const next = await store.rotateRefreshToken(rotation(first.successor.hash));
        expect(next).toMatchObject({ kind: "rotated", session: { id: session.id } });
      });

      it("rotating an unknown token gives not_found", async () => {
        const user = await addUser();
        await addSession(user.id);
        expect(await store.rotateRefreshToken(rotation(digest()))).toEqual({ kind: "not_found" });
      });

      it("rotating a spent token gives spent with the sealed successor the winner wrote", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        const first = rotation(refreshHash, { now: t0 + 1000 });
        await store.rotateRefreshToken(first);
        const replay = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 2000 }));
        expect(replay).toEqual({
          kind: "spent",
          session: { ...session, expiresAt: first.expiresAt },
          token: {
            hash: refreshHash,
            sessionId: session.id,
            spentAt: t0 + 1000,
            sealedSuccessor: first.sealedSuccessor,
            successorSpent: false,
          },
        });
      });

      it("a replay after the successor was used reports the successor as spent", async () => {
        const user = await addUser();
        const { refreshHash } = await addSession(user.id);
        const first = rotation(refreshHash);
        await store.rotateRefreshToken(first);
        await store.rotateRefreshToken(rotation(first.successor.hash));
        const replay = await store.rotateRefreshToken(rotation(refreshHash));
        expect(replay.kind === "spent" && replay.token.successorSpent).toBe(true);
      });

      it("a spent token is reported as spent even after it and its session expired", async () => {
        const user = await addUser();
        const { refreshHash } = await addSession(user.id, { expiresAt: t0 + HOUR });
        await store.rotateRefreshToken(rotation(refreshHash));
        const late = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 7 * DAY }));
        expect(late.kind).toBe("spent");
      });

      it("rotating an expired token gives expired and spends nothing", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id, { refreshExpiresAt: t0 + MINUTE });
        const late = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + MINUTE }));
        expect(late).toEqual({ kind: "expired", session });
        const early = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + MINUTE - 1 }));
        expect(early.kind).toBe("rotated");
      });

      it("rotating a token of an expired session gives expired", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id, {
          expiresAt: t0 + HOUR,
          refreshExpiresAt: t0 + DAY,
        });
        const outcome = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + HOUR }));
        expect(outcome).toEqual({ kind: "expired", session });
      });

      it("rotating a token of a revoked session gives revoked, even when the token is spent", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        const first = rotation(refreshHash);
        await store.rotateRefreshToken(first);
        await store.revokeSessions([session.id], "logout", t0 + 1, t0 + HOUR);
        const fresh = await store.rotateRefreshToken(rotation(first.successor.hash));
        expect(fresh).toMatchObject({ kind: "revoked", session: { id: session.id, revokedAt: t0 + 1 } });
        const spent = await store.rotateRefreshToken(rotation(refreshHash));
        expect(spent.kind).toBe("revoked");
      });

      it("of twenty concurrent rotations of one token exactly one rotates and the rest see its successor", async () => {
        const user = await addUser();
        const { refreshHash } = await addSession(user.id);
        const inputs = Array.from({ length: RACERS }, () => rotation(refreshHash));
        const outcomes: RotateOutcome[] = await Promise.all(
          inputs.map((input) => store.rotateRefreshToken(input)),
        );
        const winner = outcomes.findIndex((outcome) => outcome.kind === "rotated");
        only(
          outcomes.filter((outcome) => outcome.kind === "rotated"),
          "rotation",
        );
        for (const outcome of outcomes) {
          if (outcome.kind === "rotated") continue;
          expect(outcome.kind === "spent" && outcome.token.sealedSuccessor).toBe(
            inputs[winner]?.sealedSuccessor,
          );
        }
      });
    });

    describe("upgrading a session", () => {
      it("an upgrade that names metadata stores it on the session; without, the login's stays", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const metadata = { userAgent: "upgrader/1.0", ipAddress: "203.0.113.9" };
        const outcome = await store.upgradeSession({ ...upgrade(session.id), metadata });
        expect(outcome.kind === "upgraded" && outcome.session.metadata).toEqual(metadata);
        expect((await store.getSession(session.id))?.metadata).toEqual(metadata);
        const other = await addSession(user.id);
        await store.upgradeSession(upgrade(other.session.id));
        expect((await store.getSession(other.session.id))?.metadata).toEqual(other.session.metadata);
      });

      it("an upgrade denylists the jti, switches to session tokens and replaces the refresh tokens", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        const listener = listen(store);
        const input = upgrade(session.id);
        const outcome = await store.upgradeSession(input);
        const upgraded: SessionRecord = {
          ...session,
          tokenType: "session",
          sessionTokenHash: input.sessionTokenHash,
        };
        expect(outcome).toEqual({ kind: "upgraded", session: upgraded });
        expect(await store.getSession(session.id)).toEqual(upgraded);
        const entry = { id: `jti:${input.jti}`, expiresAt: input.jtiExpiresAt };
        expect(await store.listDenylist(t0)).toContainEqual(entry);
        expect(await waitForEvent(listener.events, denialOf(entry.id))).toEqual({ kind: "denied", entry });

        const old = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 1 }));
        expect(old).toEqual({
          kind: "spent",
          session: upgraded,
          token: {
            hash: refreshHash,
            sessionId: session.id,
            spentAt: t0,
            sealedSuccessor: null,
            successorSpent: false,
          },
        });
        const fresh = await store.rotateRefreshToken(rotation(input.refreshToken.hash, { now: t0 + 1 }));
        expect(fresh.kind).toBe("rotated");
      });

      it("upgrading with a jti that was already used gives jti_used and changes nothing", async () => {
        const user = await addUser();
        const { session: first } = await addSession(user.id);
        const { session: second } = await addSession(user.id);
        const jti = randomUUID();
        await store.upgradeSession(upgrade(first.id, { jti }));
        const input = upgrade(second.id, { jti });
        expect(await store.upgradeSession(input)).toEqual({ kind: "jti_used" });
        expect(await store.getSession(second.id)).toEqual(second);
        const rotate = await store.rotateRefreshToken(rotation(input.refreshToken.hash));
        expect(rotate.kind).toBe("not_found");
      });

      it("upgrading a revoked, expired or unknown session gives not_live and denylists nothing", async () => {
        const user = await addUser();
        const { session: revoked } = await addSession(user.id);
        await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
        const { session: expired } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
        const attempts = [upgrade(revoked.id), upgrade(expired.id), upgrade(randomUUID())];
        for (const attempt of attempts) {
          expect(await store.upgradeSession(attempt)).toEqual({ kind: "not_live" });
        }
        const denied = (await store.listDenylist(t0)).map((entry) => entry.id);
        for (const attempt of attempts) expect(denied).not.toContain(`jti:${attempt.jti}`);
        expect((await store.getSession(expired.id))?.tokenType).toBe("jwt");
      });

      it("upgrading an upgraded session gives already_upgraded and leaves its jti and tokens alone", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const first = upgrade(session.id);
        await store.upgradeSession(first);
        const second = upgrade(session.id);
        expect(await store.upgradeSession(second)).toEqual({ kind: "already_upgraded" });
        expect((await store.listDenylist(t0)).map((entry) => entry.id)).not.toContain(`jti:${second.jti}`);
        expect((await store.getSession(session.id))?.sessionTokenHash).toBe(first.sessionTokenHash);
        expect((await store.rotateRefreshToken(rotation(second.refreshToken.hash))).kind).toBe("not_found");
        expect((await store.rotateRefreshToken(rotation(first.refreshToken.hash))).kind).toBe("rotated");
      });

      it("of twenty concurrent upgrades with one jti exactly one upgrades", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const jti = randomUUID();
        const outcomes: UpgradeOutcome[] = await Promise.all(
          Array.from({ length: RACERS }, () => store.upgradeSession(upgrade(session.id, { jti }))),
        );
        only(
          outcomes.filter((outcome) => outcome.kind === "upgraded"),
          "upgrade",
        );
        expect(outcomes.filter((outcome) => outcome.kind === "jti_used")).toHaveLength(RACERS - 1);
      });
    });

    describe("reissuing a session from the server side", () => {
      it("reissue supersedes the refresh tokens, inserts the new one and extends the session", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        const newHash = digest();
        const reissued = await store.reissueSession({
          sessionId: session.id,
          refreshToken: { hash: newHash, createdAt: t0 + 1, expiresAt: t0 + 2 * DAY },
          sessionTokenHash: digest(),
          expiresAt: t0 + 2 * DAY,
          now: t0 + 1,
        });
        // A jwt session never gains a session token digest.
        expect(reissued).toEqual({ ...session, expiresAt: t0 + 2 * DAY, sessionTokenHash: null });
        const old = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 2 }));
        expect(old).toMatchObject({ kind: "spent", token: { sealedSuccessor: null, successorSpent: false } });
        expect(await store.rotateRefreshToken(rotation(newHash, { now: t0 + 2 }))).toMatchObject({
          kind: "rotated",
        });
      });

      it("reissue of an upgraded session replaces its session token digest", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        await store.upgradeSession(upgrade(session.id));
        const tokenHash = digest();
        const reissued = await store.reissueSession({
          sessionId: session.id,
          refreshToken: { hash: digest(), createdAt: t0, expiresAt: t0 + 2 * DAY },
          sessionTokenHash: tokenHash,
          expiresAt: t0 + 2 * DAY,
          now: t0,
        });
        expect(reissued?.sessionTokenHash).toBe(tokenHash);
        expect((await store.findSessionByTokenHash(tokenHash))?.id).toBe(session.id);
      });

      it("reissue of a revoked, expired or unknown session gives null and changes nothing", async () => {
        const user = await addUser();
        const { session: revoked } = await addSession(user.id);
        await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
        const { session: expired } = await addSession(user.id, { expiresAt: t0 + 10 });
        for (const sessionId of [revoked.id, expired.id, randomUUID()]) {
          const outcome = await store.reissueSession({
            sessionId,
            refreshToken: { hash: digest(), createdAt: t0 + 20, expiresAt: t0 + DAY },
            sessionTokenHash: null,
            expiresAt: t0 + DAY,
            now: t0 + 20,
          });
          expect(outcome).toBeNull();
        }
        expect((await store.getSession(expired.id))?.expiresAt).toBe(t0 + 10);
      });
    });

    describe("single-use links", () => {
      it("a link reads back with every field, unconsumed, and peeking does not consume it", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const full = newLink(user.id, {
          issuedBySessionId: session.id,
          data: { invite: { team: "core" }, n: 3 },
          redirectTo: "https://app.example/welcome",
          confirm: true,
          provider: "email",
          deviceId: "phone",
        });
        const bare = newLink(user.id);
        await store.createLink(full);
        await store.createLink(bare);
        expect(await store.peekLink(full.hash)).toEqual({ ...full, consumedAt: null });
        expect(await store.peekLink(bare.hash)).toEqual({ ...bare, consumedAt: null });
        expect((await store.consumeLink(full.hash, t0)).kind).toBe("consumed");
      });

      it("peeking at an unknown link gives null", async () => {
        expect(await store.peekLink(digest())).toBeNull();
      });

      it("creating a link for an unknown user rejects", async () => {
        await expect(store.createLink(newLink(987_654))).rejects.toThrow();
      });

      it("a link is consumed once and is used after that", async () => {
        const user = await addUser();
        const link = newLink(user.id);
        await store.createLink(link);
        expect(await store.consumeLink(link.hash, t0 + 1000)).toEqual({
          kind: "consumed",
          link: { ...link, consumedAt: t0 + 1000 },
        });
        expect(await store.consumeLink(link.hash, t0 + 2000)).toEqual({ kind: "used" });
        expect((await store.peekLink(link.hash))?.consumedAt).toBe(t0 + 1000);
      });

      it("an expired link gives expired and is not consumed", async () => {
        const user = await addUser();
        const link = newLink(user.id, { expiresAt: t0 });
        await store.createLink(link);
        expect(await store.consumeLink(link.hash, t0)).toEqual({ kind: "expired" });
        expect(await store.consumeLink(link.hash, t0 + 1)).toEqual({ kind: "expired" });
        expect((await store.peekLink(link.hash))?.consumedAt).toBeNull();
      });

      it("a consumed link stays used after it expires", async () => {
        const user = await addUser();
        const link = newLink(user.id, { expiresAt: t0 + MINUTE });
        await store.createLink(link);
        await store.consumeLink(link.hash, t0);
        expect(await store.consumeLink(link.hash, t0 + HOUR)).toEqual({ kind: "used" });
      });

      it("consuming an unknown link gives not_found", async () => {
        expect(await store.consumeLink(digest(), t0)).toEqual({ kind: "not_found" });
      });

      it("of twenty concurrent consumers of one link exactly one consumes it", async () => {
        const user = await addUser();
        const link = newLink(user.id);
        await store.createLink(link);
        const outcomes = await Promise.all(
          Array.from({ length: RACERS }, () => store.consumeLink(link.hash, t0 + 1)),
        );
        only(
          outcomes.filter((outcome) => outcome.kind === "consumed"),
          "consumer",
        );
        expect(outcomes.filter((outcome) => outcome.kind === "used")).toHaveLength(RACERS - 1);
      });
    });

    describe("nonces", () => {
      it("a nonce is new the first time and seen while it has not expired", async () => {
        const key = digest();
        expect(await store.rememberNonce(key, t0 + MINUTE, t0)).toBe(true);
        expect(await store.rememberNonce(key, t0 + MINUTE, t0 + 1)).toBe(false);
        expect(await store.rememberNonce(digest(), t0 + MINUTE, t0)).toBe(true);
      });

      it("an expired nonce is accepted again and then remembered anew", async () => {
        const key = digest();
        await store.rememberNonce(key, t0 + MINUTE, t0);
        expect(await store.rememberNonce(key, t0 + 3 * MINUTE, t0 + MINUTE)).toBe(true);
        expect(await store.rememberNonce(key, t0 + 3 * MINUTE, t0 + 2 * MINUTE)).toBe(false);
      });

      it("of twenty concurrent calls with one nonce exactly one finds it new", async () => {
        const key = digest();
        const results = await Promise.all(
          Array.from({ length: RACERS }, () => store.rememberNonce(key, t0 + MINUTE, t0)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe("signing keys", () => {
      it("saving an active key retires the previous active key at the new key's createdAt", async () => {
        const first = signingKey({ createdAt: t0 });
        const second = signingKey({ createdAt: t0 + 1000 });
        await store.saveSigningKey(first);
        await store.saveSigningKey(second);
        expect(await store.listSigningKeys()).toEqual([{ ...first, retiredAt: t0 + 1000 }, second]);
      });

      it("saving a retired key leaves the active key alone and keys list oldest first", async () => {
        const active = signingKey({ createdAt: t0 });
        const retired = signingKey({
          createdAt: t0 - 5000,
          retiredAt: t0 - 1000,
          publicJwk: null,
          alg: "HS256",
        });
        await store.saveSigningKey(active);
        await store.saveSigningKey(retired);
        expect(await store.listSigningKeys()).toEqual([retired, active]);
      });

      it("saving a key with an existing kid replaces it", async () => {
        const key = signingKey();
        await store.saveSigningKey(key);
        const replacement = {
          ...key,
          privateJwk: JSON.stringify({ kty: "oct", k: digest() }),
          retiredAt: t0 + 1,
        };
        await store.saveSigningKey(replacement);
        expect(await store.listSigningKeys()).toEqual([replacement]);
      });

      it("a deleted key is gone and deleting an unknown kid does nothing", async () => {
        const keep = signingKey({ createdAt: t0 - 1, retiredAt: t0 });
        const drop = signingKey();
        await store.saveSigningKey(keep);
        await store.saveSigningKey(drop);
        await store.deleteSigningKey(drop.kid);
        await store.deleteSigningKey("no-such-kid");
        expect(await store.listSigningKeys()).toEqual([keep]);
      });
    });

    describe("signing key events", () => {
      it("saving or deleting a signing key emits keys_changed, so other nodes reload their keys", async () => {
        const listener = listen(store);
        const key = signingKey();
        await store.saveSigningKey(key);
        await waitForEvent(listener.events, (event) => event.kind === "keys_changed");
        listener.events.length = 0;
        await store.deleteSigningKey(key.kid);
        expect(await waitForEvent(listener.events, (event) => event.kind === "keys_changed")).toEqual({
          kind: "keys_changed",
        });
        listener.stop();
      });
    });

    describe("maintenance", () => {
      it("purgeExpired removes what is past keeping, counts it and keeps the rest", async () => {
        const user = await addUser();
        // Removed: expired two days ago, with its refresh token (2 rows).
        const ended = await addSession(user.id, { createdAt: t0 - 3 * DAY, expiresAt: t0 - 2 * DAY });
        // Removed: revoked two days ago, with its refresh token and its expired sid entry (3 rows).
        const revoked = await addSession(user.id, { createdAt: t0 - 3 * DAY, expiresAt: t0 + DAY });
        await store.revokeSessions([revoked.session.id], "logout", t0 - 2 * DAY, t0 - DAY);
        // Kept, but its expired refresh token goes (1 row).
        const recent = await addSession(user.id, { createdAt: t0 - 2 * DAY, expiresAt: t0 - HOUR });
        // Kept whole.
        const live = await addSession(user.id);
        // Removed: the link that expired two days ago and the expired nonce (2 rows).
        const oldLink = newLink(user.id, { createdAt: t0 - 3 * DAY, expiresAt: t0 - 2 * DAY });
        const recentLink = newLink(user.id, { createdAt: t0 - 2 * HOUR, expiresAt: t0 - HOUR });
        await store.createLink(oldLink);
        await store.createLink(recentLink);
        await store.rememberNonce("old", t0 - MINUTE, t0 - 2 * MINUTE);
        await store.rememberNonce("fresh", t0 + MINUTE, t0);

        expect(await store.purgeExpired(t0)).toBe(8);

        expect(await store.getSession(ended.session.id)).toBeNull();
        expect(await store.getSession(revoked.session.id)).toBeNull();
        expect(await store.getSession(recent.session.id)).not.toBeNull();
        expect(await store.rotateRefreshToken(rotation(recent.refreshHash, { now: t0 - 2 * DAY }))).toEqual({
          kind: "not_found",
        });
        expect((await store.rotateRefreshToken(rotation(live.refreshHash))).kind).toBe("rotated");
        expect(await store.peekLink(oldLink.hash)).toBeNull();
        expect(await store.peekLink(recentLink.hash)).not.toBeNull();
        expect(await store.listDenylist(0)).toEqual([]);
        expect(await store.rememberNonce("fresh", t0 + MINUTE, t0)).toBe(false);
        expect(await store.purgeExpired(t0)).toBe(0);
      });

      it("purging an empty store removes nothing", async () => {
        expect(await store.purgeExpired(t0)).toBe(0);
      });

      it("ping resolves while the store is open", async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it("the event feed of a healthy store is current", async () => {
        expect(store.events.isCurrent()).toBe(true);
      });

      it("close can be called twice", async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });

      it("a closed store rejects every operation with store is closed", async () => {
        const user = await addUser();
        const { session, refreshHash } = await addSession(user.id);
        await store.close();
        const calls: Array<() => Promise<unknown>> = [
          () => store.createUser(newUser()),
          () => store.findUserByUsernameKey(user.usernameKey),
          () => store.findUserById(user.id),
          () => store.listUsers(),
          () => store.createSession(newSession(user.id)),
          () => store.getSession(session.id),
          () => store.findSessionByTokenHash(digest()),
          () => store.listSessions(user.id, t0),
          () => store.listAllSessions(t0),
          () => store.upgradeSession(upgrade(session.id)),
          () => store.rotateRefreshToken(rotation(refreshHash)),
          () => store.updateSessionData(session.id, {}, t0),
          () => store.touchSession(session.id, t0),
          () => store.revokeSessions([session.id], "logout", t0, t0),
          () => store.listDenylist(t0),
          () => store.createLink(newLink(user.id)),
          () => store.consumeLink(digest(), t0),
          () => store.peekLink(digest()),
          () => store.rememberNonce(digest(), t0 + 1, t0),
          () => store.listSigningKeys(),
          () => store.saveSigningKey(signingKey()),
          () => store.deleteSigningKey("kid"),
          () => store.purgeExpired(t0),
          () => store.ping(),
        ];
        for (const call of calls) await expect(call()).rejects.toThrow("store is closed");
      });
    });

    describe("events", () => {
      it("an unsubscribed listener hears nothing more", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        const gone = listen(store);
        const staying = listen(store);
        gone.stop();
        await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
        await waitForEvent(staying.events, revocationOf(session.id));
        expect(gone.events).toEqual([]);
      });

      it("a listener that throws neither fails the write nor silences the other listeners", async () => {
        const user = await addUser();
        const { session } = await addSession(user.id);
        store.events.subscribe(() => {
          throw new Error("listener bug");
        });
        const listener = listen(store);
        await expect(store.revokeSessions([session.id], "logout", t0, t0 + HOUR)).resolves.toHaveLength(1);
        await waitForEvent(listener.events, revocationOf(session.id));
      });
    });

    describe("durability", () => {
      it("users, sessions, tokens, links, keys, nonces and the denylist survive a restart", async (context) => {
        const reopen = opened.reopen;
        if (reopen === undefined) {
          context.skip("this store keeps nothing across a restart");
          return;
        }
        const user = await addUser();
        const { session } = await addSession(user.id, { deviceId: "phone", data: { kept: ["yes"] } });
        const up = upgrade(session.id);
        await store.upgradeSession(up);
        const { session: revoked } = await addSession(user.id);
        await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
        const link = newLink(user.id, { data: { step: 2 } });
        await store.createLink(link);
        const key = signingKey();
        await store.saveSigningKey(key);
        await store.rememberNonce("seen", t0 + HOUR, t0);
        const before = await store.getSession(session.id);
        const denylist = await store.listDenylist(t0);
        await store.close();

        const again = await reopen();
        try {
          expect(await again.findUserByUsernameKey(user.usernameKey)).toEqual(user);
          expect(await again.getSession(session.id)).toEqual(before);
          expect((await again.findSessionByTokenHash(up.sessionTokenHash))?.id).toBe(session.id);
          expect(await again.listDenylist(t0)).toEqual(expect.arrayContaining(denylist));
          expect(await again.listSigningKeys()).toEqual([key]);
          expect(await again.peekLink(link.hash)).toEqual({ ...link, consumedAt: null });
          expect((await again.consumeLink(link.hash, t0)).kind).toBe("consumed");
          expect(await again.rememberNonce("seen", t0 + HOUR, t0)).toBe(false);
          expect((await again.rotateRefreshToken(rotation(up.refreshToken.hash))).kind).toBe("rotated");
          expect((await again.createUser(newUser()))?.id).toBeGreaterThan(user.id);
        } finally {
          await again.close();
        }
      });
    });
  });
}
