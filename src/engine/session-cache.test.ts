import { describe, expect, it } from "vitest";
import type { SessionRecord } from "../stores/session-store.js";
import { digestKey, digestToken, generateOpaqueToken } from "../tokens/opaque.js";
import { HOT_ANSWERS, SessionCache, toPublicSession } from "./session-cache.js";
import type { PublicUser } from "./types.js";

const T0 = 1_760_000_000_000;

function record(id: string, userId: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    userId,
    deviceId: null,
    deviceName: null,
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 3_600_000,
    maxExpiresAt: T0 + 86_400_000,
    authenticatedAt: T0,
    authMethods: ["pwd"],
    tokenType: "jwt",
    metadata: { userAgent: "agent", ipAddress: "127.0.0.1" },
    data: null,
    sessionTokenHash: null,
    revokedAt: null,
    revokedReason: null,
    ...overrides,
  };
}

const ada: PublicUser = { id: 1, uuid: "u-1", username: "ada" };
const bob: PublicUser = { id: 2, uuid: "u-2", username: "bob" };

describe("session cache", () => {
  it("answers with the public session of the record it cached, frozen, and the same object while hot", () => {
    const cache = new SessionCache(60_000, 100);
    const token = generateOpaqueToken("session");
    const cached = record("s1", 1, {
      deviceId: "laptop",
      deviceName: "Ada's laptop",
      lastSeenAt: T0 + 5,
      authenticatedAt: T0 + 7,
      tokenType: "session",
      authMethods: ["pwd", "totp"],
      data: { role: "admin", tags: ["a", 1, true, null], nested: { deep: "é\u2028" } },
      sessionTokenHash: digestToken(token),
    });
    cache.put(cached, ada, T0, cache.epoch);
    const entry = cache.byTokenKey(digestKey(token), T0);
    if (entry === undefined) throw new Error("not cached");
    const answer = entry.answerAs("session");
    expect(answer).toEqual({ session: toPublicSession(cached), user: ada, credential: "session" });
    expect(Object.isFrozen(answer)).toBe(true);
    expect(entry.answerAs("session")).toBe(answer);
    expect(entry.session).toBe(answer.session);
    expect(cache.bySessionId("s1", T0)?.answerAs("session")).toBe(answer);
  });

  it("keeps the answers of the most recent sessions only, and answers the others again with equal values", async () => {
    const cache = new SessionCache(60_000, HOT_ANSWERS * 2);
    for (let i = 0; i <= HOT_ANSWERS; i++) cache.put(record(`s${i}`, 1), ada, T0, cache.epoch);
    const first = cache.bySessionId("s0", T0)?.answerAs("jwt");
    const settled = cache.bySessionId("s0", T0)?.settledAs("jwt");
    expect(await settled).toBe(first);
    for (let i = 1; i <= HOT_ANSWERS; i++) cache.bySessionId(`s${i}`, T0)?.answerAs("jwt");
    const again = cache.bySessionId("s0", T0)?.answerAs("jwt");
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    expect(Object.isFrozen(again)).toBe(true);
  });

  it("revokes and evicts every cached session of a user, and only theirs, after drops anywhere in their list", () => {
    const cache = new SessionCache(60_000, 100);
    for (const id of ["a1", "a2", "a3", "a4", "a5"]) cache.put(record(id, 1), ada, T0, cache.epoch);
    cache.put(record("b1", 2), bob, T0, cache.epoch);
    cache.evict("a1");
    cache.evict("a3");
    cache.evict("a5");
    cache.markUserRevoked(1, "a2");
    expect(cache.bySessionId("a2", T0)?.revoked).toBe(false);
    expect(cache.bySessionId("a4", T0)?.revoked).toBe(true);
    expect(cache.bySessionId("b1", T0)?.revoked).toBe(false);
    cache.evictUser(1);
    expect(cache.bySessionId("a2", T0)).toBeUndefined();
    expect(cache.bySessionId("a4", T0)).toBeUndefined();
    expect(cache.bySessionId("b1", T0)?.user).toEqual(bob);
    expect(cache.size).toBe(1);
    // The user's list starts again empty: a new session of theirs is found by the next user-wide event.
    cache.put(record("a6", 1), ada, T0, cache.epoch);
    cache.markUserRevoked(1, null);
    expect(cache.bySessionId("a6", T0)?.revoked).toBe(true);
  });

  it("a fill refused by a later invalidation still answers its caller with the user it was given", () => {
    const cache = new SessionCache(60_000, 100);
    cache.put(record("a1", 1), ada, T0, cache.epoch);
    const since = cache.epoch;
    cache.evictUser(1);
    const renamed = { ...ada, username: "ada2" };
    const refused = cache.put(record("a2", 1), renamed, T0, since);
    expect(refused.user).toBe(renamed);
    expect(refused.answerAs("jwt").user).toBe(renamed);
    expect(cache.bySessionId("a2", T0)).toBeUndefined();
  });

  it("replacing a session drops its old token digest from the index", () => {
    const cache = new SessionCache(60_000, 100);
    const oldToken = generateOpaqueToken("session");
    const newToken = generateOpaqueToken("session");
    cache.put(record("s1", 1, { tokenType: "session", sessionTokenHash: digestToken(oldToken) }), ada, T0, 0);
    cache.put(record("s1", 1, { tokenType: "session", sessionTokenHash: digestToken(newToken) }), ada, T0, 0);
    expect(cache.byTokenKey(digestKey(oldToken), T0)).toBeUndefined();
    expect(cache.byTokenKey(digestKey(newToken), T0)?.id).toBe("s1");
    expect(cache.size).toBe(1);
  });
});
