/**
 * `npm run bench -- stores-postgres` (issue 9): the PostgreSQL store's operations against
 * its driver's floor, measured in the same run on the same pool (`ping()` is one
 * `SELECT 1` through the store's pool). Validation on a cache miss is one indexed lookup
 * (`findSessionByTokenHash`); the write flows are transactions of several statements, so
 * they are compared with the floor, not held to it.
 *
 * Lookup latency p50/p99 at 1k and at 1M sessions: the sessions are bulk-inserted with
 * `generate_series` (the store's own path would take an hour for a million), then looked up
 * by random token digests through the store.
 *
 * Needs the machine's PostgreSQL (127.0.0.1:5432, database `test`); uses a schema of its
 * own, dropped at the end.
 */
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { PostgresStore } from "../src/stores/postgres/index.js";
import type { CreateSessionInput, SessionStore } from "../src/stores/session-store.js";
import { compare, note, pick, ratioLine } from "./measure.js";
import type { StoreTarget } from "./stores.js";

const URL_ = process.env.TESSERA_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DAY = 24 * 60 * 60 * 1000;

/** Sequential latencies of `op`, in µs: p50 and p99 of `samples` calls after a warm-up. */
async function latency(op: () => Promise<unknown>, samples = 2000): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 200; i++) await op();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await op();
    times.push((performance.now() - started) * 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0);
  return { p50: at(0.5), p99: at(0.99) };
}

/** Adds sessions `prefix1…prefixN` (upgraded, token digest `t<prefix><n>`) in one statement. */
async function bulkSessions(
  admin: pg.Pool,
  userId: number,
  prefix: string,
  from: number,
  to: number,
): Promise<void> {
  const now = Date.now();
  await admin.query(
    `INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, max_expires_at, authenticated_at,
       auth_methods, token_type, user_agent, ip_address, data, session_token_hash)
     SELECT $2 || g, $1, $3, $3, $3::bigint + $4::bigint, $3::bigint + 2 * $4::bigint, $3, '["pwd"]', 'session',
       'bench/1.0', '192.0.2.7', '{"role":"member"}', 't' || $2 || g
     FROM generate_series($5::int, $6::int) g`,
    [userId, prefix, now, DAY, from, to],
  );
}

function newSession(userId: number, now: number): CreateSessionInput {
  const id = randomUUID();
  return {
    session: {
      id,
      userId,
      deviceId: null,
      deviceName: null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + DAY,
      maxExpiresAt: now + 30 * DAY,
      authenticatedAt: now,
      authMethods: ["pwd"],
      tokenType: "session",
      metadata: { userAgent: "bench/1.0", ipAddress: "192.0.2.7" },
      data: { role: "member" },
      sessionTokenHash: randomBytes(32).toString("base64url"),
    },
    refreshToken: {
      hash: randomBytes(32).toString("base64url"),
      sessionId: id,
      createdAt: now,
      expiresAt: now + DAY,
    },
  };
}

async function writeFlows(store: SessionStore, admin: pg.Pool, userId: number): Promise<void> {
  const now = Date.now();
  // Enough fresh targets for every timed call of the revoke and redeem rows.
  const spare = 60_000;
  await bulkSessions(admin, userId, "r", 1, spare);
  await admin.query(
    `INSERT INTO links (hash, user_id, data, confirm, created_at, expires_at)
     SELECT 'l' || g, $1, 'null', false, $2, $2::bigint + 3600000 FROM generate_series(1, $3::int) g`,
    [userId, now, spare],
  );
  await admin.query("ANALYZE");
  const first = newSession(userId, now);
  await store.createSession(first);
  let refresh = first.refreshToken.hash;
  let revoked = 0;
  let redeemed = 0;
  const results = await compare(
    "PostgresStore operations against SELECT 1 on the same pool (sequential calls)",
    [
      {
        name: "validate on a cache miss (findSessionByTokenHash)",
        op: () => store.findSessionByTokenHash(`tr${1 + Math.floor(Math.random() * spare)}`),
      },
      { name: "createSession", op: () => store.createSession(newSession(userId, Date.now())) },
      {
        name: "rotateRefreshToken",
        op: async () => {
          const at = Date.now();
          const next = randomBytes(32).toString("base64url");
          await store.rotateRefreshToken({
            oldHash: refresh,
            successor: { hash: next, createdAt: at, expiresAt: at + DAY },
            sealedSuccessor: "sealed",
            sessionTokenHash: randomBytes(32).toString("base64url"),
            expiresAt: at + DAY,
            now: at,
          });
          refresh = next;
        },
      },
      {
        name: "revokeSessions (one session)",
        op: () =>
          store.revokeSessions([`r${(revoked++ % spare) + 1}`], "logout", Date.now(), Date.now() + 900_000),
      },
      {
        name: "redeemLink (consume + create session)",
        op: () => {
          const n = (redeemed++ % spare) + 1;
          const input = newSession(userId, Date.now());
          return store.redeemLink({ hash: `l${n}`, now: Date.now(), session: input });
        },
      },
      { name: "floor: SELECT 1 (ping)", op: () => store.ping() },
    ],
    { rounds: 5, msPerRound: 300 },
  );
  const floor = pick(results, "floor: SELECT 1 (ping)");
  note(
    ratioLine(
      "PostgreSQL validate-on-miss time vs SELECT 1",
      floor,
      pick(results, "validate on a cache miss (findSessionByTokenHash)"),
      "≤ 1.5×",
      (r) => r <= 1.5,
    ),
  );
}

/**
 * PostgreSQL as one of the `stores` section's targets: a fresh schema, and as floor a
 * `SELECT 1` through the opened store's own pool (`ping()`), so the floor pays the same
 * pool checkout the operations pay.
 */
export function postgresTarget(): StoreTarget {
  const schema = `tessera_bench_${randomBytes(4).toString("hex")}`;
  let opened: PostgresStore | null = null;
  return {
    name: "postgres",
    async open() {
      opened = await PostgresStore.open({ url: URL_, schema, poolSize: 4 });
      return opened;
    },
    async floor() {
      const store = opened;
      if (store === null) throw new Error("the floor is measured on the opened store's pool");
      return () => store.ping();
    },
    async cleanup() {
      const admin = new pg.Client({ connectionString: URL_ });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

export async function benchStoresPostgres(): Promise<void> {
  const schema = `tessera_bench_${randomBytes(4).toString("hex")}`;
  const store = await PostgresStore.open({ url: URL_, schema, poolSize: 4 });
  const admin = new pg.Pool({ connectionString: URL_, max: 2, options: `-c search_path=${schema}` });
  try {
    const user = await store.createUser({
      uuid: randomUUID(),
      username: "bench",
      usernameKey: "bench",
      passwordHash: null,
      createdAt: Date.now(),
    });
    if (user === null) throw new Error("no bench user");
    await writeFlows(store, admin, user.id);

    const lookup = (n: number) => () =>
      store.findSessionByTokenHash(`tb${1 + Math.floor(Math.random() * n)}`);
    let seeded = 0;
    const lines: string[] = [];
    for (const size of [1_000, 1_000_000]) {
      for (let from = seeded + 1; from <= size; from += 100_000) {
        await bulkSessions(admin, user.id, "b", from, Math.min(size, from + 99_999));
      }
      seeded = size;
      await admin.query("ANALYZE sessions");
      const floor = await latency(() => store.ping());
      const found = await latency(lookup(size));
      lines.push(
        `PostgreSQL lookup at ${size.toLocaleString("en-US")} sessions: p50 ${found.p50} µs, p99 ${found.p99} µs (SELECT 1 floor p50 ${floor.p50} µs, p99 ${floor.p99} µs)`,
      );
    }
    for (const line of lines) note(line);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}
