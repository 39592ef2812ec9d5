/**
 * `npm run bench -- cluster` (issue 10): three `tessera serve` processes on one shared store,
 * each reaching the store through its own TCP proxy, measured from outside with real HTTP and
 * WebSocket clients, on every shared store this machine can run:
 *
 * - revoke on node A (the `POST /auth/logout` answer) → the first refusal on nodes B and C
 *   (target p99 < 50 ms);
 * - revoke on A → the session's socket on node C closed (target p99 < 250 ms);
 * - validation throughput of one node (its cache) against a server that asks the store once
 *   per request, a plain `GET` (or `SELECT`) (target ≥ 10×);
 * - a store outage: the store's network cut (the proxy drops every connection) → the first
 *   `unavailable` (503) on a node, and the network back → the first 200 again.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import Fastify from "fastify";
import pg from "pg";
import { createClient } from "redis";
import { WebSocket } from "ws";
import {
  startNode,
  startProxy,
  startRedis,
  type TcpProxy,
  type TesseraNode,
} from "../test/cluster/processes.js";
import { note, percentile, printTable } from "./measure.js";

const REVOCATIONS = Number(process.env.BENCH_CLUSTER_REVOCATIONS ?? 1000);
const SOCKET_ROUNDS = Number(process.env.BENCH_CLUSTER_SOCKETS ?? 200);
const PASSWORD = "cluster-bench-password";

interface ClusterStore {
  readonly name: string;
  /** Where the proxies forward; null: the nodes share a file, no network in between. */
  readonly port: number | null;
  nodeArgs(proxyPort: number): string[];
  /** A request handler that asks the store once, the way a node without a cache would. */
  floor(): Promise<{ query: () => Promise<unknown>; close: () => Promise<void> }>;
  close(): Promise<void>;
}

async function redisStore(): Promise<ClusterStore> {
  const redis = await startRedis();
  return {
    name: "Redis",
    port: redis.port,
    nodeArgs: (proxyPort) => ["--store", "redis", "--redis-url", `redis://127.0.0.1:${proxyPort}`],
    async floor() {
      const client = createClient({ url: redis.url });
      await client.connect();
      await client.set("bench:floor", JSON.stringify({ session: { id: "s", userId: 1 } }));
      return { query: () => client.get("bench:floor"), close: async () => void (await client.close()) };
    },
    close: () => redis.stop(),
  };
}

async function postgresStore(): Promise<ClusterStore> {
  const database = `tessera_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "test" });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  return {
    name: "PostgreSQL",
    port: 5432,
    nodeArgs: (proxyPort) => [
      "--store",
      "postgres",
      "--database-url",
      `postgres://postgres@127.0.0.1:${proxyPort}/${database}`,
    ],
    async floor() {
      const pool = new pg.Pool({ host: "127.0.0.1", port: 5432, user: "postgres", database, max: 10 });
      return { query: () => pool.query("SELECT 1"), close: () => pool.end() };
    },
    async close() {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}

async function sqliteStore(): Promise<ClusterStore> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-cluster-"));
  return {
    name: "SQLite (one file)",
    port: null,
    nodeArgs: () => ["--database", join(dir, "tessera.db")],
    async floor() {
      const { default: Database } = await import("better-sqlite3");
      const db = new Database(join(dir, "floor.db"));
      const select = db.prepare("SELECT 1");
      return {
        query: async () => select.get(),
        close: async () => void db.close(),
      };
    },
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

interface Pair {
  readonly accessToken: string;
  readonly sessionId: string;
}

async function post(node: TesseraNode, path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${node.http}${path}`, {
    method: "POST",
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function login(node: TesseraNode, username: string): Promise<Pair> {
  const response = await post(node, "/auth/login", { username, password: PASSWORD });
  if (response.status !== 200) throw new Error(`login: ${response.status} ${await response.text()}`);
  return (await response.json()) as Pair;
}

async function upgraded(node: TesseraNode, username: string): Promise<Pair> {
  const pair = await login(node, username);
  const response = await post(node, "/auth/upgrade", undefined, pair.accessToken);
  if (response.status !== 200) throw new Error(`upgrade: ${response.status} ${await response.text()}`);
  return (await response.json()) as Pair;
}

async function sessionStatus(node: TesseraNode, token: string): Promise<number> {
  const response = await fetch(`${node.http}/auth/session`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

/** Milliseconds from `start` until `node` first refuses `token` (it asks as fast as it gets answers). */
async function firstRefusal(node: TesseraNode, token: string, start: number): Promise<number> {
  for (;;) {
    const status = await sessionStatus(node, token);
    if (status === 401) return performance.now() - start;
    if (status !== 200) throw new Error(`unexpected ${status} while waiting for a refusal`);
  }
}

/** Milliseconds from `start` until `node` answers `status`. */
async function firstStatus(node: TesseraNode, token: string, status: number, start: number): Promise<number> {
  for (;;) {
    if ((await sessionStatus(node, token)) === status) return performance.now() - start;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function percentiles(values: readonly number[], what: string): { p50: number; p99: number; max: number } {
  return {
    p50: percentile(values, 50, what),
    p99: percentile(values, 99, what),
    max: percentile(values, 100, what),
  };
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function throughput(url: string, headers: Record<string, string>, seconds: number): Promise<number> {
  const result = await autocannon({ url, headers, connections: 32, workers: 1, duration: seconds });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return result.requests.total / seconds;
}

async function measureStore(store: ClusterStore): Promise<void> {
  const proxies: TcpProxy[] = [];
  const nodes: TesseraNode[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      let args = store.nodeArgs(0);
      if (store.port !== null) {
        const proxy = await startProxy(store.port);
        proxies.push(proxy);
        args = store.nodeArgs(proxy.port);
      }
      nodes.push(await startNode(args));
    }
    const [a, b, c] = nodes as [TesseraNode, TesseraNode, TesseraNode];
    const username = `bench-${Date.now()}`;
    const created = await post(a, "/auth/register", { username, password: PASSWORD });
    if (created.status !== 201 && created.status !== 200) throw new Error(`register: ${created.status}`);

    // Revoke on A → first refusal on B and C. Each session is seen on B and C first (cached).
    const onB: number[] = [];
    const onC: number[] = [];
    for (let i = 0; i < REVOCATIONS; i++) {
      const pair = await login(a, username);
      if (
        (await sessionStatus(b, pair.accessToken)) !== 200 ||
        (await sessionStatus(c, pair.accessToken)) !== 200
      )
        throw new Error("a fresh session was refused on another node");
      const logout = await post(a, "/auth/logout", undefined, pair.accessToken);
      const acknowledged = performance.now();
      if (logout.status !== 204) throw new Error(`logout: ${logout.status}`);
      const [timeB, timeC] = await Promise.all([
        firstRefusal(b, pair.accessToken, acknowledged),
        firstRefusal(c, pair.accessToken, acknowledged),
      ]);
      onB.push(timeB);
      onC.push(timeC);
    }
    const refusal = percentiles([...onB, ...onC], `${store.name}: revoke → refusal on the other nodes`);
    note(
      `${store.name}: revoke on A → first refusal on B and C over ${REVOCATIONS} revocations: p50 ${ms(refusal.p50)}, p99 ${ms(refusal.p99)}, max ${ms(refusal.max)} (target p99 < 50 ms: ${refusal.p99 < 50 ? "met" : "NOT met"})`,
    );

    // Revoke on A → the session's socket on C closed.
    const closes: number[] = [];
    for (let i = 0; i < SOCKET_ROUNDS; i++) {
      const pair = await upgraded(a, username);
      const socket = new WebSocket(c.ws, { headers: { authorization: `Bearer ${pair.accessToken}` } });
      await once(socket, "message"); // ready
      const closed = once(socket, "close").then(() => performance.now());
      const started = performance.now();
      const logout = await post(a, "/auth/logout", undefined, pair.accessToken);
      if (logout.status !== 204) throw new Error(`logout: ${logout.status}`);
      closes.push((await closed) - started);
    }
    const socketClose = percentiles(closes, `${store.name}: revoke → socket closed`);
    note(
      `${store.name}: revoke on A → socket on C closed over ${SOCKET_ROUNDS} sockets: p50 ${ms(socketClose.p50)}, p99 ${ms(socketClose.p99)}, max ${ms(socketClose.max)} (target p99 < 250 ms: ${socketClose.p99 < 250 ? "met" : "NOT met"})`,
    );

    // Validation on one node (local cache) against one store round trip per request.
    const live = await upgraded(a, username);
    const floor = await store.floor();
    const bare = Fastify();
    bare.get("/auth/session", async () => ({ session: await floor.query() }));
    await bare.listen({ port: 0, host: "127.0.0.1" });
    const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/auth/session`;
    const headers = { authorization: `Bearer ${live.accessToken}` };
    const nodeRate: number[] = [];
    const floorRate: number[] = [];
    await throughput(`${b.http}/auth/session`, headers, 1);
    await throughput(bareUrl, headers, 1);
    for (let round = 0; round < 3; round++) {
      nodeRate.push(await throughput(`${b.http}/auth/session`, headers, 2));
      floorRate.push(await throughput(bareUrl, headers, 2));
    }
    await bare.close();
    await floor.close();
    const median = (values: number[]) =>
      [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
    const results = [
      { name: `node B, GET /auth/session (session token, cache)`, opsPerSecond: median(nodeRate) },
      { name: `bare Fastify, one store query per request`, opsPerSecond: median(floorRate) },
    ];
    printTable(`${store.name}: validation per node against a store round trip per request`, results, "req/s");
    const ratio = (results[0]?.opsPerSecond ?? 0) / (results[1]?.opsPerSecond ?? 1);
    note(
      `${store.name}: validation ${ratio.toFixed(1)}× a store query per request (target ≥ 10×: ${ratio >= 10 ? "met" : "NOT met"})`,
    );

    // A store outage, as the nodes see it: the proxy drops every connection.
    const proxyOfB = proxies[1];
    if (proxyOfB !== undefined) {
      const cut = performance.now();
      proxyOfB.setMode("drop");
      const down = await firstStatus(b, live.accessToken, 503, cut);
      const back = performance.now();
      proxyOfB.setMode("pass");
      const up = await firstStatus(b, live.accessToken, 200, back);
      note(
        `${store.name}: store cut off → first 503 on the node after ${ms(down)}; store back → first 200 after ${ms(up)}`,
      );
    }
  } finally {
    for (const node of nodes) await node.stop();
    for (const proxy of proxies) await proxy.close();
  }
}

export async function benchCluster(): Promise<void> {
  for (const open of [sqliteStore, redisStore, postgresStore]) {
    let store: ClusterStore;
    try {
      store = await open();
    } catch (error) {
      note(`${open.name}: not measured (${error instanceof Error ? error.message : String(error)})`);
      continue;
    }
    try {
      await measureStore(store);
    } catch (error) {
      note(`${store.name}: failed (${error instanceof Error ? error.message : String(error)})`);
    } finally {
      await store.close();
    }
  }
}
