import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  dropSchemas,
  rawClient,
  TEST_DATABASE_URL,
  uniqueSchema,
  until,
  updateOf,
} from "../../../test/postgres-kit.js";
import type { StoreEvent } from "../session-store.js";
import { PostgresStore } from "./postgres-store.js";

const schema = uniqueSchema("tessera_feed");
const stores: PostgresStore[] = [];

async function open(): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url: TEST_DATABASE_URL, schema, revocationLeaseMs: 300 });
  stores.push(store);
  return store;
}

function listen(store: PostgresStore): StoreEvent[] {
  const events: StoreEvent[] = [];
  store.events.subscribe((event) => events.push(event));
  return events;
}

/** Inserts an event row as another node's transaction would, committed. */
async function insertEvent(sessionId: string): Promise<void> {
  const client = await rawClient(schema);
  try {
    await client.query("INSERT INTO events (kind, payload) VALUES ('session_updated', $1::json)", [
      JSON.stringify({ sessionId }),
    ]);
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

afterAll(async () => {
  await dropSchemas([schema]);
});

describe("the PostgreSQL event feed", () => {
  it("an event whose transaction took an earlier id but committed later is still delivered", async () => {
    const store = await open();
    const events = listen(store);
    const early = await rawClient(schema);
    const late = await rawClient(schema);
    try {
      await early.query("BEGIN");
      const a = await early.query<{ seq: number }>(
        `INSERT INTO events (kind, payload) VALUES ('session_updated', '{"sessionId":"early"}') RETURNING seq`,
      );
      await late.query("BEGIN");
      const b = await late.query<{ seq: number }>(
        `INSERT INTO events (kind, payload) VALUES ('session_updated', '{"sessionId":"late"}') RETURNING seq`,
      );
      expect(Number(a.rows[0]?.seq)).toBeLessThan(Number(b.rows[0]?.seq));
      await late.query("COMMIT");
      // The reader has now seen a row past the gap the uncommitted one leaves.
      await until(() => events.some(updateOf("late")), "the later id is delivered");
      await early.query("COMMIT");
      await until(() => events.some(updateOf("early")), "the earlier id is delivered after its commit");
      // Read again past both (a marker after them): neither comes twice.
      await insertEvent("marker");
      await until(() => events.some(updateOf("marker")), "the marker is delivered");
      expect(events.filter(updateOf("early"))).toHaveLength(1);
      expect(events.filter(updateOf("late"))).toHaveLength(1);
    } finally {
      await early.end();
      await late.end();
    }
  });

  it("a rolled-back transaction's event is never delivered, and does not hold the feed back", async () => {
    const store = await open();
    const events = listen(store);
    const client = await rawClient(schema);
    try {
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO events (kind, payload) VALUES ('session_updated', '{"sessionId":"undone"}')`,
      );
      await client.query("ROLLBACK");
    } finally {
      await client.end();
    }
    await insertEvent("after");
    await until(() => events.some(updateOf("after")), "the next event is delivered");
    expect(events.some(updateOf("undone"))).toBe(false);
  });

  it("a revocation on one store reaches another at once, and each store emits its own events once", async () => {
    const a = await open();
    const b = await open();
    const onA = listen(a);
    const onB = listen(b);
    const now = Date.now();
    const user = await a.createUser({
      uuid: crypto.randomUUID(),
      username: "Ada",
      usernameKey: `ada-${crypto.randomUUID()}`,
      passwordHash: null,
      createdAt: now,
    });
    if (user === null) throw new Error("no user");
    const id = crypto.randomUUID();
    await a.createSession({
      session: {
        id,
        userId: user.id,
        deviceId: null,
        deviceName: null,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 60_000,
        maxExpiresAt: now + 120_000,
        authenticatedAt: now,
        authMethods: ["pwd"],
        tokenType: "jwt",
        metadata: { userAgent: null, ipAddress: null },
        data: null,
        sessionTokenHash: null,
      },
      refreshToken: { hash: crypto.randomUUID(), sessionId: id, createdAt: now, expiresAt: now + 60_000 },
    });
    await a.revokeSessions([id], "logout", now, now + 60_000);
    const revoked = (event: StoreEvent) => event.kind === "session_revoked" && event.sessionId === id;
    // Emitted by the writer right after its commit, before any read of the log.
    expect(onA.filter(revoked)).toHaveLength(1);
    await until(() => onB.some(revoked), "the other store hears the revocation");
    await insertEvent("marker");
    await until(() => onA.some(updateOf("marker")) && onB.some(updateOf("marker")), "both read past it");
    expect(onA.filter(revoked)).toHaveLength(1);
    expect(onB.filter(revoked)).toHaveLength(1);
  });

  it("the store clock estimates the server's clock (here the same host's)", async () => {
    const store = await open();
    // Same machine, same clock: the estimate is off by at most half a round trip.
    expect(Math.abs(store.clock() - Date.now())).toBeLessThan(1000);
  });

  it("purgeExpired removes event rows older than an hour", async () => {
    const store = await open();
    const client = await rawClient(schema);
    try {
      await client.query(`INSERT INTO events (at, kind, payload) VALUES (0, 'keys_changed', '{}')`);
      await store.purgeExpired(Date.now());
      const { rows } = await client.query("SELECT 1 FROM events WHERE at = 0");
      expect(rows).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
