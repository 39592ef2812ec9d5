/**
 * The PostgreSQL store when the network to its server fails, through a TCP proxy the test
 * controls: a black hole (connections stay open, nothing arrives: a half-dead peer, a
 * stalled read) and a drop (every connection closed, new ones refused). Calls must reject
 * rather than hang, the feed must stop claiming to be current, an idle connection's error
 * must not crash the process, and everything recovers once the network is back.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startProxy, type TcpProxy } from "../../../test/cluster/processes.js";
import {
  dropSchemas,
  TEST_DATABASE_URL,
  uniqueSchema,
  until,
  urlThrough,
} from "../../../test/postgres-kit.js";
import type { StoreEvent } from "../session-store.js";
import { PostgresStore } from "./postgres-store.js";

const schema = uniqueSchema("tessera_faults");
let proxy: TcpProxy | null = null;
let store: PostgresStore | null = null;

async function openBehindProxy(): Promise<{ store: PostgresStore; proxy: TcpProxy; events: StoreEvent[] }> {
  proxy = await startProxy(Number(new URL(TEST_DATABASE_URL).port || 5432));
  store = await PostgresStore.open({
    url: urlThrough(proxy.port),
    schema,
    revocationLeaseMs: 300,
    statementTimeoutMs: 300,
    poolSize: 4,
  });
  const events: StoreEvent[] = [];
  store.events.subscribe((event) => events.push(event));
  return { store, proxy, events };
}

const newUser = () => ({
  uuid: crypto.randomUUID(),
  username: "Ada",
  usernameKey: `ada-${crypto.randomUUID()}`,
  passwordHash: null,
  createdAt: Date.now(),
});

afterEach(async () => {
  await store?.close();
  await proxy?.close();
  store = null;
  proxy = null;
});

afterAll(async () => {
  await dropSchemas([schema]);
});

describe("PostgresStore under network faults", () => {
  it("a black-holed connection makes calls reject and the feed lose its lease, and both recover", async () => {
    const { store, proxy, events } = await openBehindProxy();
    const user = await store.createUser(newUser());
    if (user === null) throw new Error("no user");
    expect(store.events.isCurrent()).toBe(true);

    proxy.setMode("blackhole");
    // Pooled connections send and hear nothing: the client-side query timeout rejects.
    await expect(store.findUserById(user.id)).rejects.toThrow();
    await expect(store.createUser(newUser())).rejects.toThrow();
    await until(() => !store.events.isCurrent(), "the feed loses its lease");

    proxy.setMode("pass");
    await until(() => store.events.isCurrent(), "the feed is current again");
    expect(events.some((event) => event.kind === "reset")).toBe(true);
    expect(await store.findUserById(user.id)).toEqual(user);
  });

  it("dropped connections do not crash the process; calls reject while down and work after", async () => {
    const { store, proxy, events } = await openBehindProxy();
    // Fill the pool with idle connections, so the drop hits clients nobody is using.
    await Promise.all([store.ping(), store.ping(), store.ping(), store.ping()]);

    proxy.setMode("drop");
    await expect(store.ping()).rejects.toThrow();
    await expect(store.createUser(newUser())).rejects.toThrow();
    await until(() => !store.events.isCurrent(), "the feed loses its lease");

    proxy.setMode("pass");
    await until(() => store.events.isCurrent(), "the feed is current again");
    expect(events.some((event) => event.kind === "reset")).toBe(true);
    await expect(store.ping()).resolves.toBeUndefined();
    expect(await store.createUser(newUser())).not.toBeNull();
  });

  it("opening through a black hole is refused within the connection timeout", async () => {
    proxy = await startProxy(Number(new URL(TEST_DATABASE_URL).port || 5432));
    proxy.setMode("blackhole");
    await expect(
      PostgresStore.open({ url: urlThrough(proxy.port), schema, statementTimeoutMs: 300 }),
    ).rejects.toThrow(/cannot reach PostgreSQL/);
  });
});
