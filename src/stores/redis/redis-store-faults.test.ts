/**
 * What only a Redis store has to get right: refusing a Redis that may lose revocations,
 * surviving a crash of its server, noticing a server that came back empty, and a feed
 * lease that lapses when the connection stalls and comes back when it recovers.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type SessionStore, type StoreEvent, StoreOpenError } from "../session-store.js";
import { RedisStore } from "./redis-store.js";
import {
  freePort,
  type PrivateRedis,
  type StallingProxy,
  startPrivateRedis,
  startProxy,
  until,
} from "./redis-test-support.js";

const DURABLE = [
  "--appendonly",
  "yes",
  "--appendfsync",
  "always",
  "--save",
  "",
  "--maxmemory-policy",
  "noeviction",
];

const servers: PrivateRedis[] = [];
const proxies: StallingProxy[] = [];
const stores: SessionStore[] = [];

async function server(settings: readonly string[]): Promise<PrivateRedis> {
  const started = await startPrivateRedis(settings);
  servers.push(started);
  return started;
}

async function open(url: string, options: { readonly allowUnsafeRedis?: boolean } = {}): Promise<RedisStore> {
  const store = await RedisStore.open({
    url,
    keyPrefix: `t:${randomUUID()}:`,
    revocationLeaseMs: 300,
    commandTimeoutMs: 500,
    ...options,
  });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const proxy of proxies.splice(0)) await proxy.close();
  for (const started of servers.splice(0)) await started.stop();
});

async function seed(store: SessionStore): Promise<string> {
  const now = Date.now();
  const user = await store.createUser({
    uuid: randomUUID(),
    username: "Ada",
    usernameKey: `ada-${randomUUID()}`,
    passwordHash: null,
    createdAt: now,
  });
  if (user === null) throw new Error("no user");
  const id = randomUUID();
  await store.createSession({
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
    refreshToken: { hash: randomUUID(), sessionId: id, createdAt: now, expiresAt: now + 60_000 },
  });
  return id;
}

describe("RedisStore start-up safety", () => {
  it("refuses a Redis without persistence, naming the fix and the opt-out", async () => {
    const redis = await server(["--appendonly", "no", "--save", ""]);
    const refusal = await open(redis.url).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(StoreOpenError);
    expect(String((refusal as Error).message)).toMatch(
      /persistence is off.*appendonly yes.*--allow-unsafe-redis/,
    );
    expect(String((refusal as Error).message)).toContain("TESSERA_ALLOW_UNSAFE_REDIS");
  });

  it("refuses a Redis whose eviction policy may drop keys with a TTL", async () => {
    const redis = await server(["--appendonly", "yes", "--maxmemory-policy", "volatile-lru"]);
    await expect(open(redis.url)).rejects.toThrow(/maxmemory-policy is volatile-lru.*noeviction/);
  });

  it("accepts a durable Redis, and an unsafe one only with the opt-out", async () => {
    const durable = await server(DURABLE);
    await expect((await open(durable.url)).ping()).resolves.toBeUndefined();
    const unsafe = await server(["--appendonly", "no", "--save", ""]);
    await expect((await open(unsafe.url, { allowUnsafeRedis: true })).ping()).resolves.toBeUndefined();
  });

  it("an unreachable Redis is a StoreOpenError that shows the URL without its password", async () => {
    const port = await freePort();
    const refusal = (await open(`redis://tessera:s3cret-pw@127.0.0.1:${port}`).catch(
      (e: unknown) => e,
    )) as Error;
    expect(refusal).toBeInstanceOf(StoreOpenError);
    expect(refusal.message).toContain(`127.0.0.1:${port}`);
    expect(refusal.message).not.toContain("s3cret-pw");
  });
});

describe("RedisStore against a server that fails", () => {
  it("an acknowledged session survives a crash of the server (SIGKILL, append-only file)", async () => {
    const redis = await server(DURABLE);
    const store = await open(redis.url);
    const id = await seed(store);
    await redis.restart();
    await until(
      async () => (await store.getSession(id).catch(() => null)) !== null,
      "the session reads back",
    );
    expect((await store.getSession(id))?.revokedAt).toBeNull();
  });

  it("a server that comes back empty makes the feed emit reset, and the store works on", async () => {
    const redis = await server(DURABLE);
    const store = await open(redis.url);
    const events: StoreEvent[] = [];
    store.events.subscribe((event) => events.push(event));
    const id = await seed(store);
    await redis.restart({ empty: true });
    await until(() => events.some((event) => event.kind === "reset"), "reset is emitted");
    await until(
      async () =>
        await store
          .ping()
          .then(() => true)
          .catch(() => false),
      "the store answers again",
    );
    expect(await store.getSession(id)).toBeNull();
    await until(() => store.events.isCurrent(), "the feed is current again");
    await seed(store);
  });

  it("the lease lapses while the connection is black-holed and returns after", async () => {
    const redis = await server(DURABLE);
    const proxy = await startProxy(redis.port);
    proxies.push(proxy);
    const store = await open(`redis://127.0.0.1:${proxy.port}`);
    const events: StoreEvent[] = [];
    store.events.subscribe((event) => events.push(event));
    const id = await seed(store);
    expect(store.events.isCurrent()).toBe(true);

    proxy.setBlackhole(true);
    await until(() => !store.events.isCurrent(), "the lease lapses");
    // A call that cannot reach Redis rejects (the engine answers unavailable); it never hangs.
    await expect(store.getSession(id)).rejects.toThrow();

    proxy.setBlackhole(false);
    await until(() => store.events.isCurrent(), "the lease is back");
    await until(() => events.some((event) => event.kind === "reset"), "the reconnect emits reset");
    await until(async () => (await store.getSession(id).catch(() => null))?.id === id, "reads work again");
  });

  it("another store's revocation reaches this store's feed through the log", async () => {
    const redis = await server(DURABLE);
    const keyPrefix = `t:${randomUUID()}:`;
    const a = await RedisStore.open({ url: redis.url, keyPrefix });
    const b = await RedisStore.open({ url: redis.url, keyPrefix });
    stores.push(a, b);
    const heard: StoreEvent[] = [];
    b.events.subscribe((event) => heard.push(event));
    const own: StoreEvent[] = [];
    a.events.subscribe((event) => own.push(event));
    const id = await seed(a);
    await a.revokeSessions([id], "logout", Date.now(), Date.now() + 60_000);
    await until(
      () => heard.some((event) => event.kind === "session_revoked" && event.sessionId === id),
      "b hears the revocation",
    );
    // a emitted its own events once, at the write, and skipped them when they came back.
    await until(() => heard.some((event) => event.kind === "denied"), "b hears the denial");
    expect(own.filter((event) => event.kind === "session_revoked")).toHaveLength(1);
  });
});
