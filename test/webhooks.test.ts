/**
 * Webhooks with a real HTTP receiver: signed deliveries of chosen kinds, retries with
 * backoff on an injected clock, giving up, a lease that outlives a crashed claimer, and a
 * `tessera serve` restart in the middle of a delivery. Nothing waits on time: each step
 * waits for the receiver to see a request, or moves the clock.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/server/config.js";
import { startServer } from "../src/server/start.js";
import { verifyWebhook, webhookKey } from "../src/server/webhook-signature.js";
import { WebhookDispatcher } from "../src/server/webhooks.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { FAST_PASSWORDS, makeEngine, testClock } from "./kit.js";
import { testConfig } from "./server-kit.js";

const SECRET = `whsec_${Buffer.from("a webhook secret of 32 bytes!!!!").toString("base64")}`;

type Behaviour = "ok" | "fail" | "hold";

interface Received {
  readonly headers: Record<string, string | undefined>;
  readonly body: string;
  readonly json: { type: string; timestamp: string; data: { id: string; kind: string; userId: number } };
}

/** A webhook receiver on a free port: answers each request as `behaviours` says, in turn (then "ok"). */
async function receiver(behaviours: Behaviour[] = []) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(request.headers)) headers[name] = String(value);
      received.push({ headers, body, json: JSON.parse(body) as Received["json"] });
      const behaviour = behaviours.shift() ?? "ok";
      if (behaviour === "hold") held.push(response);
      else response.writeHead(behaviour === "ok" ? 204 : 500).end();
      for (const wake of waiters.splice(0)) wake();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tessera`;
  return {
    url,
    received,
    /** Resolves once `count` requests have arrived. */
    async requests(count: number): Promise<Received[]> {
      while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
      return received.slice(0, count);
    },
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-webhooks-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function engineWithHooks(
  url: string,
  options: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {},
) {
  const store = SqliteStore.open({ path: join(tempDir(), "tessera.db") });
  const { tessera, clock } = await makeEngine({ store });
  const errors: string[] = [];
  const hooks = new WebhookDispatcher({
    tessera,
    store,
    url,
    secret: SECRET,
    kinds: ["login_succeeded", "login_failed"],
    random: () => 0.5,
    reportError: (error) => errors.push(error instanceof Error ? error.message : String(error)),
    ...options,
  });
  cleanups.push(async () => {
    await hooks.close();
    tessera.close();
    await store.close();
  });
  await tessera.register({ username: "ada", password: "secret123" });
  return { tessera, store, clock, hooks, errors };
}

describe("webhooks", () => {
  it("POSTs chosen kinds as JSON signed the Standard Webhooks way, with the event id as webhook-id", async () => {
    const hook = await receiver();
    cleanups.push(() => hook.close());
    const { tessera, clock } = await engineWithHooks(hook.url);
    await tessera.login({ username: "ada", password: "secret123", metadata: { ipAddress: "192.0.2.9" } });
    const [delivery] = await hook.requests(1);
    if (delivery === undefined) throw new Error("no delivery");
    expect(delivery.headers["content-type"]).toBe("application/json");
    expect(verifyWebhook(webhookKey(SECRET), delivery.headers, delivery.body, clock() / 1000)).toBe(true);
    expect(
      verifyWebhook(
        webhookKey("another secret of enough bytes"),
        delivery.headers,
        delivery.body,
        clock() / 1000,
      ),
    ).toBe(false);
    expect(verifyWebhook(webhookKey(SECRET), delivery.headers, `${delivery.body} `, clock() / 1000)).toBe(
      false,
    );
    expect(verifyWebhook(webhookKey(SECRET), delivery.headers, delivery.body, clock() / 1000 + 3600)).toBe(
      false,
    );
    expect(delivery.json).toMatchObject({
      type: "login_succeeded",
      data: { kind: "login_succeeded", ipAddress: "192.0.2.9", id: delivery.headers["webhook-id"] },
    });
    expect(delivery.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(delivery.body).not.toContain("secret123");
    // session_created was not chosen: only the one login event went out.
    await tessera.securityEventsSettled();
    expect(hook.received).toHaveLength(1);
  });

  it("a failed delivery is retried after its backoff with the same id, and then leaves the queue", async () => {
    const hook = await receiver(["fail", "ok"]);
    cleanups.push(() => hook.close());
    const { tessera, store, clock, hooks } = await engineWithHooks(hook.url, { baseDelayMs: 1000 });
    await tessera.login({ username: "ada", password: "wrong", metadata: {} }).catch(() => undefined);
    await hook.requests(1);
    await hooks.deliverDue();
    // Not due yet: the first retry waits (with jitter 0.5) half a second at least.
    expect(await hooks.deliverDue()).toBe(0);
    clock.advance(1000);
    expect(await hooks.deliverDue()).toBe(1);
    const [first, second] = await hook.requests(2);
    expect(second?.headers["webhook-id"]).toBe(first?.headers["webhook-id"]);
    expect(second?.json.type).toBe("login_failed");
    clock.advance(24 * 3600_000);
    expect(await store.claimWebhooks(clock(), 10, 1000)).toEqual([]);
  });

  it("gives up after maxAttempts and reports it", async () => {
    const hook = await receiver(["fail", "fail", "fail"]);
    cleanups.push(() => hook.close());
    const { tessera, clock, hooks, errors } = await engineWithHooks(hook.url, { maxAttempts: 2 });
    await tessera.login({ username: "ada", password: "secret123" });
    await hook.requests(1);
    await hooks.deliverDue();
    clock.advance(3600_000);
    await hooks.deliverDue();
    await hook.requests(2);
    await hooks.deliverDue();
    clock.advance(3600_000);
    expect(await hooks.deliverDue()).toBe(0);
    expect(hook.received).toHaveLength(2);
    expect(errors.some((message) => message.includes("after 2 attempts (status 500)"))).toBe(true);
  });

  it("with the default schedule, a receiver that is down for 20 hours still gets the event", async () => {
    // Fails every request until the clock says the receiver is back.
    const down: Behaviour[] = Array.from({ length: 100 }, () => "fail");
    const hook = await receiver(down);
    cleanups.push(() => hook.close());
    const { tessera, store, clock, hooks, errors } = await engineWithHooks(hook.url);
    await tessera.login({ username: "ada", password: "secret123" });
    await hook.requests(1);
    const back = clock() + 20 * 3600_000;
    let delivered = false;
    // A minute at a time, for at most a day and a quarter: each round sends what is due.
    for (let minute = 0; minute < 30 * 60 && !delivered; minute++) {
      clock.advance(60_000);
      if (clock() >= back) down.length = 0;
      const before = hook.received.length;
      await hooks.deliverDue();
      delivered = down.length === 0 && hook.received.length > before;
    }
    expect(errors).toEqual([]);
    expect(delivered).toBe(true);
    expect(await store.claimWebhooks(clock() + 24 * 3600_000, 10, 1000)).toEqual([]);
  });

  it("a claimer that died holds its delivery only until the lease passes; then another sends it", async () => {
    // The first node's POST hangs (the receiver holds it): as if the node died mid-delivery.
    const hook = await receiver(["hold", "ok"]);
    cleanups.push(() => hook.close());
    const { tessera, store, clock } = await engineWithHooks(hook.url, {
      leaseMs: 30_000,
      timeoutMs: 3600_000,
    });
    const other = new WebhookDispatcher({
      tessera,
      store,
      url: hook.url,
      secret: SECRET,
      kinds: [],
      reportError: () => undefined,
    });
    cleanups.push(() => other.close());
    await tessera.login({ username: "ada", password: "secret123" });
    const [held] = await hook.requests(1);
    expect(await other.deliverDue()).toBe(0);
    clock.advance(30_000);
    expect(await other.deliverDue()).toBe(1);
    const [, delivery] = await hook.requests(2);
    const [event] = (await tessera.listSecurityEvents({ kinds: ["login_succeeded"] })).events;
    expect(delivery?.headers["webhook-id"]).toBe(event?.id);
    expect(delivery?.headers["webhook-id"]).toBe(held?.headers["webhook-id"]);
  });
});

describe("webhooks through tessera serve", () => {
  it("a restart in the middle of a delivery sends it again from the new process, same id", async () => {
    const hook = await receiver(["hold"]);
    cleanups.push(() => hook.close());
    const dataDir = tempDir();
    const clock = testClock(Date.now());
    const config = testConfig(dataDir, {
      webhookUrl: hook.url,
      webhookSecret: SECRET,
      webhookEvents: ["login_succeeded"],
      engine: { passwords: FAST_PASSWORDS, clock },
    });
    const first = await startServer(config, { print: () => undefined });
    let running = first;
    cleanups.push(() => running.close());
    const post = (path: string, json: unknown) =>
      fetch(`${running.urls.http}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(json),
      });
    expect((await post("/auth/register", { username: "ada", password: "secret123" })).status).toBe(201);
    // The receiver holds the delivery; the login that caused it has answered all the same.
    expect((await post("/auth/login", { username: "ada", password: "secret123" })).status).toBe(200);
    const [held] = await hook.requests(1);
    await first.close();

    const second = await startServer(config, { print: () => undefined });
    running = second;
    const [, again] = await hook.requests(2);
    expect(again?.headers["webhook-id"]).toBe(held?.headers["webhook-id"]);
    expect(again?.body).toBe(held?.body);
    expect(verifyWebhook(webhookKey(SECRET), again?.headers ?? {}, again?.body ?? "", clock() / 1000)).toBe(
      true,
    );
  });

  it("refuses a webhook URL without a secret, a short secret, a bad URL and unknown kinds", () => {
    const load = (flags: Record<string, unknown>) => () =>
      loadConfig({ flags: { webhookUrl: "https://hooks.example/t", ...flags }, env: {}, cwd: tmpdir() });
    expect(load({})).toThrow(/needs a signing secret/);
    expect(load({ webhookSecret: "short" })).toThrow(/at least 24 bytes/);
    expect(load({ webhookSecret: SECRET, webhookUrl: "ftp://hooks.example/t" })).toThrow(/http\(s\) URL/);
    expect(load({ webhookSecret: SECRET, webhookEvents: "login_succeeded,coffee" })).toThrow(/kinds among/);
    expect(load({ webhookSecret: SECRET, webhookEvents: "new_device,login_failed" })().webhookEvents).toEqual(
      ["new_device", "login_failed"],
    );
    expect(() => loadConfig({ env: { TESSERA_WEBHOOK_SECRET: SECRET }, cwd: tmpdir() })).toThrow(
      /need a webhookUrl/,
    );
  });
});
