/**
 * A write waiting for another process's SQLite write lock (issue 11, item 5), over a real
 * port on a real file, with a real second process holding `BEGIN IMMEDIATE`. The write
 * waits on a timer, not inside the driver, so the process keeps answering: validations
 * (cached and not), reads, `/livez` and `/healthz` (which reports that the store cannot
 * write) complete while the write is still pending. Released in time, the write commits;
 * held past the deadline, it answers 503 `unavailable` and leaves nothing half-written.
 *
 * Everything is ordered by events — the holder's "locked", the store's lock-wait callback,
 * responses — and the deadline is measured on an injected clock: no sleeps, no thresholds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { Tessera } from "../src/engine/tessera.js";
import { SqliteStore, type SqliteStoreOptions } from "../src/stores/sqlite/sqlite-store.js";
import { digestToken } from "../src/tokens/opaque.js";
import { FAST_PASSWORDS, testClock } from "./kit.js";
import { serveStore, tempDir } from "./server-kit.js";

const HOLDER = new URL("./fixtures/sqlite-lock-holder.mjs", import.meta.url).pathname;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A second process on the file that takes and releases the write lock when told to. */
async function lockHolder(path: string): Promise<{ lock(): Promise<void>; release(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [HOLDER, path], { stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const expectLine = async (expected: string) => {
    const { value } = await lines.next();
    if (value !== expected) throw new Error(`lock holder said ${String(value)}, not ${expected}`);
  };
  await expectLine("ready");
  const command = async (name: string, answer: string) => {
    child.stdin?.write(`${name}\n`);
    await expectLine(answer);
  };
  return { lock: () => command("lock", "locked"), release: () => command("release", "released") };
}

/** A callback for `onLockWait`, and a promise for the first time it is called. */
function lockWaits(): { onLockWait: () => void; first: Promise<void> } {
  let onLockWait: () => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    onLockWait = resolve;
  });
  return { onLockWait: () => onLockWait(), first };
}

/** A store on a fresh file, served over a real port, and when its writes first wait for the lock. */
async function serve(options: Omit<SqliteStoreOptions, "path" | "onLockWait"> = {}) {
  const path = freshPath();
  const waits = lockWaits();
  const store = SqliteStore.open({ path, ...options, onLockWait: waits.onLockWait });
  const served = await serveStore(store);
  cleanups.push(served.close);
  return { path, store, base: served.base, firstLockWait: waits.first };
}

function freshPath(): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return join(dir.path, "tessera.db");
}

function post(base: string, path: string, payload: unknown, token?: string): Promise<Response> {
  return fetch(base + path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(payload),
  });
}

async function sessionOf(base: string, token: string): Promise<number> {
  const response = await fetch(`${base}/auth/session`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Registers a user and logs in twice: an access JWT, and a session token (the other login, upgraded). */
async function signIn(base: string, username: string) {
  expect((await post(base, "/auth/register", { username, password: "secret123" })).status).toBe(201);
  const accessToken = async () => {
    const login = await post(base, "/auth/login", { username, password: "secret123" });
    return ((await login.json()) as { accessToken: string }).accessToken;
  };
  const jwt = await accessToken();
  const upgraded = await post(base, "/auth/upgrade", {}, await accessToken());
  const session = ((await upgraded.json()) as { accessToken: string }).accessToken;
  return { jwt, session };
}

/** Records when a request answers, so the order of answers can be asserted. */
function track(events: string[], name: string, request: Promise<Response>): Promise<Response> {
  return request.then((response) => {
    events.push(name);
    return response;
  });
}

describe("a SQLite write waiting for another process's lock", () => {
  it("waits without blocking the process: validations, reads, /livez and /healthz answer first, and the write commits once the lock is released", async () => {
    // A deadline far beyond the test: the release, not the clock, ends the wait.
    const { path, base, firstLockWait } = await serve({ lockTimeoutMs: 600_000 });
    const alice = await signIn(base, "alice");
    expect(await sessionOf(base, alice.session)).toBe(200); // now cached
    expect(await sessionOf(base, alice.jwt)).toBe(200);
    // A session this process has never seen: validating it is a read of the store.
    const otherStore = SqliteStore.open({ path });
    const other = await Tessera.create({ store: otherStore, passwords: FAST_PASSWORDS });
    await other.register({ username: "bob", password: "secret123" });
    const bobJwt = (await other.login({ username: "bob", password: "secret123" })).accessToken;
    const bob = (await other.upgrade(bobJwt)).accessToken;
    await other.securityEventsSettled();
    other.close();
    await otherStore.close();

    const holder = await lockHolder(path);
    await holder.lock();
    const events: string[] = [];
    const login = track(
      events,
      "login",
      post(base, "/auth/login", { username: "alice", password: "secret123" }),
    );
    await Promise.race([firstLockWait, login]);
    expect(events, "the login answered before it ever waited for the lock").toEqual([]);

    const answers = [
      ["cached session token", await sessionOf(base, alice.session)],
      ["access JWT", await sessionOf(base, alice.jwt)],
      ["uncached session token", await sessionOf(base, bob)],
      ["/livez", (await fetch(`${base}/livez`)).status],
      // Readiness needs a write, so it says so (after its own probe timeout) — but it answers.
      ["/healthz", (await fetch(`${base}/healthz`)).status],
    ];
    expect(answers).toEqual([
      ["cached session token", 200],
      ["access JWT", 200],
      ["uncached session token", 200],
      ["/livez", 200],
      ["/healthz", 503],
    ]);
    expect(events, "the login is still waiting for the lock").toEqual([]);

    await holder.release();
    const response = await login;
    expect(response.status).toBe(200);
    const pair = (await response.json()) as { accessToken: string };
    expect(await sessionOf(base, pair.accessToken)).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("past its deadline a waiting write answers 503 unavailable in the contract's shape, and nothing of it is written", async () => {
    const clock = testClock(Date.now());
    const { path, store, base, firstLockWait } = await serve({ lockTimeoutMs: 1000, now: clock });
    const alice = await signIn(base, "alice");
    const issued = await post(base, "/auth/links", { data: { invite: "core" } }, alice.session);
    expect(issued.status).toBe(201);
    const linkPath = new URL(((await issued.json()) as { url: string }).url).pathname;
    const hash = digestToken(linkPath.slice("/auth/links/".length));
    const user = await store.findUserByUsernameKey("alice");
    const sessionsBefore = await store.listSessions(user?.id ?? 0, Date.now());

    const holder = await lockHolder(path);
    await holder.lock();
    const events: string[] = [];
    const redeem = (): Promise<Response> =>
      fetch(base + linkPath, { headers: { accept: "application/json" } });
    const redemption = track(events, "redemption", redeem());
    await Promise.race([firstLockWait, redemption]);
    expect(events, "the redemption answered before it ever waited for the lock").toEqual([]);

    clock.advance(1000);
    const refused = await redemption;
    expect(refused.status).toBe(503);
    const refusal = (await refused.json()) as { error: { code: string; message: string } };
    expect(refusal).toEqual({ error: { code: "unavailable", message: expect.any(String) } });
    expect(JSON.stringify(refusal)).not.toContain(linkPath.slice("/auth/links/".length));

    // Nothing half-written: the link is unused and no session was made from it.
    expect((await store.peekLink(hash))?.consumedAt).toBeNull();
    expect(await store.listSessions(user?.id ?? 0, Date.now())).toEqual(sessionsBefore);

    // Once the lock is free it redeems, exactly once.
    await holder.release();
    const redeemed = await redeem();
    expect(redeemed.status).toBe(200);
    const session = ((await redeemed.json()) as { session: { data: unknown } }).session;
    expect(session.data).toEqual({ invite: "core" });
    expect((await redeem()).status).toBe(410);
  });

  it("an up-to-date file opens while another process holds its write lock, and its writes then wait", async () => {
    const path = freshPath();
    await SqliteStore.open({ path }).close();
    const holder = await lockHolder(path);
    await holder.lock();
    const waits = lockWaits();
    const store = SqliteStore.open({ path, lockTimeoutMs: 600_000, onLockWait: waits.onLockWait });
    cleanups.push(() => store.close());
    expect(await store.listSigningKeys()).toEqual([]);
    const write = store.setPasswordHash(1, "x");
    await waits.first;
    await holder.release();
    expect(await write).toBe(false);
  });

  it("closing the store rejects the writes still waiting for the lock", async () => {
    const path = freshPath();
    const waits = lockWaits();
    const store = SqliteStore.open({ path, lockTimeoutMs: 600_000, onLockWait: waits.onLockWait });
    const holder = await lockHolder(path);
    await holder.lock();
    const write = store.enableUser(1);
    await waits.first;
    await store.close();
    await expect(write).rejects.toThrow("store is closed");
  });

  it("identity writes wait for the lock like every other write (none goes to the driver directly)", async () => {
    const path = freshPath();
    const waits = lockWaits();
    const store = SqliteStore.open({ path, lockTimeoutMs: 600_000, onLockWait: waits.onLockWait });
    cleanups.push(() => store.close());
    const user = await store.createUser({
      uuid: crypto.randomUUID(),
      username: "ada",
      usernameKey: "ada",
      passwordHash: null,
      createdAt: 0,
    });
    const key = { provider: "signed-payload", issuer: "acme", subject: "ada" };
    await store.linkIdentity({ ...key, userId: user?.id ?? 0, createdAt: 0 });
    const holder = await lockHolder(path);
    await holder.lock();
    const unlink = store.unlinkIdentity(key);
    const first = await Promise.race([
      waits.first.then(() => "waited"),
      unlink.then(
        () => "answered while locked",
        (error: unknown) => `failed: ${String(error)}`,
      ),
    ]);
    expect(first).toBe("waited");
    await holder.release();
    expect(await unlink).toBe(true);
    expect(await store.findIdentity(key)).toBeNull();
  });

  it("writes that queue behind a waiting write commit in the order they were made", async () => {
    const path = freshPath();
    const waits = lockWaits();
    const store = SqliteStore.open({ path, lockTimeoutMs: 600_000, onLockWait: waits.onLockWait });
    cleanups.push(() => store.close());
    const holder = await lockHolder(path);
    await holder.lock();
    const names = ["u1", "u2", "u3", "u4", "u5"];
    const created = names.map((name) =>
      store.createUser({
        uuid: crypto.randomUUID(),
        username: name,
        usernameKey: name,
        passwordHash: null,
        createdAt: 0,
      }),
    );
    await waits.first;
    expect(await store.listUsers()).toEqual([]); // reads answer; nothing committed yet
    await holder.release();
    const ids = (await Promise.all(created)).map((user) => user?.id);
    expect(ids).toEqual([1, 2, 3, 4, 5]);
  });
});
