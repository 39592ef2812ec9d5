/**
 * The Redis store's security log by user: `GET /auth/events` and every sessions page ask
 * for one user's events, and those come from the user's own index — not from walking the
 * deployment's whole log, which made each request read and parse every event of every user
 * (1.5 s for a user's page behind 100,000 other events). Counted on a private redis-server
 * (`INFO commandstats`), so no other client's commands are in the numbers.
 */
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SecurityEventRecord } from "../session-store.js";
import { RedisStore } from "./redis-store.js";
import { type PrivateRedis, startPrivateRedis } from "./redis-test-support.js";

let redis: PrivateRedis;
let admin: ReturnType<typeof createClient>;
beforeAll(async () => {
  redis = await startPrivateRedis(["--save", "", "--appendonly", "no"]);
  admin = createClient({ url: redis.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.quit();
  await redis?.stop();
});

let sequence = 0;
function event(userId: number | null, at: number): SecurityEventRecord {
  sequence += 1;
  return {
    id: `0${String(at).padStart(13, "0")}${String(sequence).padStart(8, "0")}`,
    at,
    kind: "login_failed",
    userId,
    usernameKey: null,
    sessionId: null,
    surface: "http",
    ipAddress: "192.0.2.1",
    userAgent: null,
    detail: {},
  };
}

/** How many times Redis ran `command` since the last call. */
async function calls(command: string): Promise<number> {
  const info = await admin.info("commandstats");
  await admin.configResetStat();
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return match === null ? 0 : Number(match[1]);
}

describe("RedisStore security log by user", () => {
  it("a user's page reads their own events only, however many other users' come after", async () => {
    const store = await RedisStore.open({ url: redis.url, keyPrefix: "byuser:", allowUnsafeRedis: true });
    try {
      const mine = [event(7, 1000), event(7, 1001), event(null, 1002), event(7, 1003)];
      for (const record of mine) await store.appendSecurityEvent(record);
      for (let i = 0; i < 2000; i++) await store.appendSecurityEvent(event(8 + (i % 50), 2000 + i));
      await calls("zrevrangebylex");
      const page = await store.listSecurityEvents({ userId: 7, limit: 10 });
      expect(page.map((record) => record.id)).toEqual([mine[3]?.id, mine[1]?.id, mine[0]?.id]);
      expect(await calls("zrevrangebylex")).toBe(1);
      // Paging goes on from the cursor, in the user's events alone.
      expect(await store.listSecurityEvents({ userId: 7, limit: 10, beforeId: mine[1]?.id ?? "" })).toEqual([
        mine[0],
      ]);
      // Pruning takes events out of their user's index too.
      expect(await store.pruneSecurityEvents(1002, 100)).toBe(2);
      expect((await store.listSecurityEvents({ userId: 7, limit: 10 })).map((record) => record.id)).toEqual([
        mine[3]?.id,
      ]);
      expect((await store.listSecurityEvents({ limit: 3000 })).length).toBe(2002);
    } finally {
      await store.close();
    }
  });

  it("events written before the per-user indexes are indexed when a store opens", async () => {
    const keyPrefix = "upgrade:";
    const store = await RedisStore.open({ url: redis.url, keyPrefix, allowUnsafeRedis: true });
    const old = [event(3, 500), event(4, 501), event(3, 502)];
    try {
      for (const record of old) await store.appendSecurityEvent(record);
    } finally {
      await store.close();
    }
    // As a Redis written by a Tessera without them: no indexes, no mark.
    await admin.del([
      `${keyPrefix}{d}:log:user:3`,
      `${keyPrefix}{d}:log:user:4`,
      `${keyPrefix}{d}:log:by-user`,
    ]);
    const reopened = await RedisStore.open({ url: redis.url, keyPrefix, allowUnsafeRedis: true });
    try {
      expect(
        (await reopened.listSecurityEvents({ userId: 3, limit: 10 })).map((record) => record.id),
      ).toEqual([old[2]?.id, old[0]?.id]);
      expect(await reopened.listSecurityEvents({ userId: 4, limit: 10 })).toEqual([old[1]]);
    } finally {
      await reopened.close();
    }
  });
});
