/**
 * Issue 9, measured: each store's operations side by side — validation on a cache miss
 * (`findSessionByTokenHash`, `getSession`) and the write flows (create, rotate, revoke,
 * redeem a link) — each against its driver's floor measured in the same run (a bare `GET`
 * on a client of the same driver and settings; in-process stores have none), and the
 * lookup latency on Redis as the store grows.
 *
 * A store is a `StoreTarget`; another one (PostgreSQL, `bench/stores-postgres.ts`) is one
 * more entry in `targets()`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { RedisStore } from "../src/stores/redis/redis-store.js";
import type { CreateSessionInput, SessionStore } from "../src/stores/session-store.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { median, note, printTable } from "./measure.js";
import { postgresTarget } from "./stores-postgres.js";

export interface StoreTarget {
  readonly name: string;
  /** Opens a fresh, empty store. */
  open(): Promise<SessionStore>;
  /** One round trip of the store's driver and nothing else; null for in-process stores. */
  floor(): Promise<(() => Promise<unknown>) | null>;
  /** Removes what `open` made (files, key prefixes, schemas). */
  cleanup(): Promise<void>;
}

const REDIS_URL = process.env.TESSERA_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const OPS = 2000;
/** The big store for the growth figure: 1M sessions take ~2 GB in Redis, too much on a shared machine. */
const BIG = Number(process.env.TESSERA_BENCH_BIG ?? 100_000);

function redisTarget(): StoreTarget {
  const keyPrefix = `tessera-bench:${randomUUID()}:`;
  const client = createClient({ url: REDIS_URL });
  client.on("error", () => {});
  return {
    name: "redis",
    open: () => RedisStore.open({ url: REDIS_URL, keyPrefix, allowUnsafeRedis: true }),
    async floor() {
      await client.connect();
      const key = `${keyPrefix}floor`;
      await client.sendCommand(["SET", key, "x"]);
      return () => client.sendCommand(["GET", key]);
    },
    async cleanup() {
      if (!client.isOpen) await client.connect();
      let cursor = "0";
      do {
        const [next, keys] = (await client.sendCommand([
          "SCAN",
          cursor,
          "MATCH",
          `${keyPrefix}*`,
          "COUNT",
          "1000",
        ])) as [string, string[]];
        cursor = next;
        if (keys.length > 0) await client.sendCommand(["UNLINK", ...keys]);
      } while (cursor !== "0");
      client.destroy();
    },
  };
}

function sqliteTarget(): StoreTarget {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-stores-"));
  return {
    name: "sqlite",
    open: async () => SqliteStore.open({ path: join(dir, "bench.db") }),
    floor: async () => null,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function memoryTarget(): StoreTarget {
  return {
    name: "memory",
    open: async () => new MemoryStore(),
    floor: async () => null,
    cleanup: async () => {},
  };
}

export function targets(): StoreTarget[] {
  return [memoryTarget(), sqliteTarget(), redisTarget(), postgresTarget()];
}

const digest = (): string => randomBytes(32).toString("base64url");

/** A session as a login makes it, with a random token digest. */
export function newSession(userId: number, now: number): CreateSessionInput {
  const id = randomUUID();
  return {
    session: {
      id,
      userId,
      deviceId: null,
      deviceName: null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 3_600_000,
      maxExpiresAt: now + 86_400_000,
      authenticatedAt: now,
      authMethods: ["pwd"],
      tokenType: "session",
      metadata: { userAgent: "bench", ipAddress: "127.0.0.1" },
      data: { role: "member" },
      sessionTokenHash: digest(),
    },
    refreshToken: { hash: digest(), sessionId: id, createdAt: now, expiresAt: now + 3_600_000 },
  };
}

interface Timing {
  readonly opsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs `op(i)` `count` times one after another; per-op latency in microseconds. */
async function time(count: number, op: (i: number) => Promise<unknown>): Promise<Timing> {
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await op(i);
    samples.push((performance.now() - t) * 1000);
  }
  const elapsed = performance.now() - start;
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  return { opsPerSecond: (count / elapsed) * 1000, p50: at(0.5), p99: at(0.99) };
}

async function addUser(store: SessionStore, now: number): Promise<number> {
  const user = await store.createUser({
    uuid: randomUUID(),
    username: "bench",
    usernameKey: `bench-${randomUUID()}`,
    passwordHash: null,
    createdAt: now,
  });
  if (user === null) throw new Error("bench: could not create a user");
  return user.id;
}

/** What one operation needs: its name and the call for the i-th run (each run gets fresh state). */
interface Operation {
  readonly name: string;
  readonly op: (i: number) => Promise<unknown>;
}

const ROUNDS = 5;

async function benchTarget(target: StoreTarget): Promise<void> {
  const store = await target.open();
  const floor = await target.floor();
  try {
    const now = Date.now();
    const userId = await addUser(store, now);
    const sessions = Array.from({ length: OPS }, () => newSession(userId, now));
    // Created up front so that lookups, rotations and revocations in every round find them.
    for (const input of sessions) await store.createSession(input);
    const fresh = Array.from({ length: OPS }, () => newSession(userId, now));
    const links = Array.from({ length: OPS }, () => digest());
    for (const hash of links) {
      await store.createLink({
        hash,
        userId,
        issuedBySessionId: null,
        data: null,
        redirectTo: null,
        confirm: false,
        provider: null,
        deviceId: null,
        createdAt: now,
        expiresAt: now + 600_000,
      });
    }
    let refresh = sessions[0]?.refreshToken.hash ?? "";
    const operations: Operation[] = [
      { name: "createSession", op: (i) => store.createSession(fresh[i] as CreateSessionInput) },
      {
        name: "findSessionByTokenHash (cache miss)",
        op: (i) => store.findSessionByTokenHash(sessions[i]?.session.sessionTokenHash ?? ""),
      },
      { name: "getSession (cache miss)", op: (i) => store.getSession(sessions[i]?.session.id ?? "") },
      {
        name: "rotateRefreshToken",
        op: async () => {
          const successor = digest();
          await store.rotateRefreshToken({
            oldHash: refresh,
            successor: { hash: successor, createdAt: now, expiresAt: now + 3_600_000 },
            sealedSuccessor: "sealed",
            sessionTokenHash: digest(),
            expiresAt: now + 3_600_000,
            now,
          });
          refresh = successor;
        },
      },
      // Revokes from the end, so that rotation (on session 0) keeps a live session.
      {
        name: "revokeSessions (one)",
        op: (i) =>
          store.revokeSessions([sessions[OPS - 1 - i]?.session.id ?? ""], "logout", now, now + 900_000),
      },
      {
        name: "redeemLink (+ its session)",
        op: (i) => store.redeemLink({ hash: links[i] ?? "", now, session: newSession(userId, now) }),
      },
    ];
    if (floor !== null) operations.push({ name: "(floor: bare GET, same driver)", op: floor });
    // Interleaved rounds, as measure.compare does: a noisy neighbour hurts every row alike.
    const samples = new Map<string, number[]>(operations.map((o) => [o.name, []]));
    const perRound = Math.floor(OPS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      for (const o of operations) {
        const timing = await time(perRound, (i) => o.op(round * perRound + i));
        samples.get(o.name)?.push(timing.opsPerSecond);
      }
    }
    const results = operations.map((o) => ({
      name: o.name,
      opsPerSecond: median(samples.get(o.name) ?? []),
    }));
    printTable(
      `stores: ${target.name}, sequential calls, median of ${ROUNDS} interleaved rounds (one core)`,
      results,
    );
    if (floor !== null) {
      const base = results[results.length - 1]?.opsPerSecond ?? Number.NaN;
      for (const r of results.slice(0, -1)) {
        note(
          `${target.name} ${r.name}: ${(base / r.opsPerSecond).toFixed(2)}× the floor's latency (target ≤ 1.5× for one round trip)`,
        );
      }
    }
  } finally {
    await store.close();
    await target.cleanup();
  }
}

/** Lookup latency on Redis with few and with many sessions stored (bulk-loaded concurrently). */
async function benchGrowth(): Promise<void> {
  const target = redisTarget();
  const store = await target.open();
  try {
    const now = Date.now();
    const userIds = await Promise.all(Array.from({ length: 100 }, () => addUser(store, now)));
    const loaded: CreateSessionInput[] = [];
    const load = async (upTo: number) => {
      while (loaded.length < upTo) {
        const batch = Array.from({ length: Math.min(500, upTo - loaded.length) }, (_, i) =>
          newSession(userIds[(loaded.length + i) % userIds.length] as number, now),
        );
        // Concurrent calls share one connection: node-redis pipelines them.
        await Promise.all(batch.map((input) => store.createSession(input)));
        loaded.push(...batch);
      }
    };
    const rows: { name: string; opsPerSecond: number }[] = [];
    for (const size of [1000, BIG]) {
      const started = performance.now();
      await load(size);
      const loadSeconds = (performance.now() - started) / 1000;
      const pick = (i: number) => loaded[(i * 7919) % loaded.length] as CreateSessionInput;
      const byHash = await time(OPS, (i) =>
        store.findSessionByTokenHash(pick(i).session.sessionTokenHash ?? ""),
      );
      const byId = await time(OPS, (i) => store.getSession(pick(i).session.id));
      rows.push({ name: `findSessionByTokenHash p50 µs, ${size} sessions`, opsPerSecond: byHash.p50 });
      rows.push({ name: `findSessionByTokenHash p99 µs, ${size} sessions`, opsPerSecond: byHash.p99 });
      rows.push({ name: `getSession p50 µs, ${size} sessions`, opsPerSecond: byId.p50 });
      rows.push({ name: `getSession p99 µs, ${size} sessions`, opsPerSecond: byId.p99 });
      note(`redis: loaded ${size} sessions in ${loadSeconds.toFixed(1)} s (concurrent createSession)`);
    }
    printTable(
      `stores: redis lookup latency as it grows (${BIG} sessions is the big size; 1M would need ~2 GB)`,
      rows,
      "µs",
    );
  } finally {
    await store.close();
    await target.cleanup();
  }
}

export async function benchStores(): Promise<void> {
  for (const target of targets()) await benchTarget(target);
  await benchGrowth();
}
