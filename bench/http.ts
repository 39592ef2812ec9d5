/**
 * Issue 15, targets 1 and 4, over real ports with autocannon (the load generator in a worker
 * thread, interleaved rounds, median of the rounds):
 *
 * 1. The HTTP app as `tessera serve` builds it — default logging (pino, asynchronous, here to
 *    /dev/null) and metrics (with process metrics) — against a bare Fastify app serving the
 *    same route (target ≥ 0.9×); its authenticated route against its own open route with the
 *    same body (target ≥ 0.95×); and the peers (Fastify + jose, express-session + Redis).
 * 2. `POST /auth/login` throughput against raw argon2id at the same parameters and
 *    concurrency (target ≥ 0.9×), and validation p99 during a login flood against idle
 *    (target ≤ 2×).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { hash, verify } from "@node-rs/argon2";
import autocannon from "autocannon";
import { destination } from "pino";
import { Tessera } from "../src/engine/tessera.js";
import { createLogger } from "../src/server/logger.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { TesseraMetrics } from "../src/surfaces/http/metrics.js";
import { tesseraGuard } from "../src/surfaces/middleware/fastify.js";
import { median, note, pick, printTable, type Result, ratioLine } from "./measure.js";
import { bareFastify, expressSessionRedis, fastifyJose, type Peer } from "./peers.js";

const ROUND_SECONDS = 2;
const ROUNDS = 5;

interface Target {
  readonly name: string;
  readonly url: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly connections: number;
}

async function load(target: Target, seconds: number): Promise<number> {
  const result = await autocannon({
    url: target.url,
    connections: target.connections,
    // The load generator runs in a worker thread, so it does not share the server's event loop.
    workers: 1,
    duration: seconds,
    ...(target.method === undefined ? {} : { method: target.method }),
    ...(target.headers === undefined ? {} : { headers: target.headers }),
    ...(target.body === undefined ? {} : { body: target.body }),
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${target.name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result.requests.total / seconds;
}

interface Candidate {
  readonly name: string;
  /** Runs for `seconds` and answers operations per second. */
  readonly measure: (seconds: number) => Promise<number>;
}

const http = (target: Target): Candidate => ({
  name: target.name,
  measure: (seconds) => load(target, seconds),
});

/** Rounds alternate between the candidates, so a noisy neighbour hurts them all alike. */
async function interleaved(title: string, candidates: readonly Candidate[], unit: string): Promise<Result[]> {
  for (const candidate of candidates) await candidate.measure(1); // warm-up
  const samples = new Map<string, number[]>(candidates.map((candidate) => [candidate.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const candidate of candidates)
      samples.get(candidate.name)?.push(await candidate.measure(ROUND_SECONDS));
  }
  const results = candidates.map((c) => ({ name: c.name, opsPerSecond: median(samples.get(c.name) ?? []) }));
  printTable(title, results, unit);
  return results;
}

/** A measurer of argon2id verifications per second with `concurrency` in flight, as the login limiter allows. */
async function rawArgon2(
  params: { memoryCost: number; timeCost: number; parallelism: number },
  concurrency: number,
) {
  const phc = await hash("bench-password", { ...params, algorithm: 2 });
  return async (seconds: number) => {
    const end = performance.now() + seconds * 1000;
    let count = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await verify(phc, "bench-password");
          count++;
        }
      }),
    );
    return (count / (performance.now() - started)) * 1000;
  };
}

/** Latency percentiles of `target` (ms) over `seconds`. */
async function latency(target: Target, seconds: number): Promise<{ p50: number; p99: number }> {
  // In this thread (a worker's start-up under a flood can take the whole run); the client's
  // own cost is in both the idle and the busy figure.
  const result = await autocannon({
    url: target.url,
    connections: target.connections,
    duration: seconds,
    ...(target.headers === undefined ? {} : { headers: target.headers }),
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${target.name}: failures during the latency run`);
  if (result.requests.total === 0) return { p50: Number.NaN, p99: Number.NaN };
  return { p50: result.latency.p50, p99: result.latency.p99 };
}

export async function benchHttp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-http-"));
  const store = SqliteStore.open({ path: join(dir, "tessera.db") });
  const passwords = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
  const tessera = await Tessera.create({ store, passwords, loginThrottle: false });
  // As `tessera serve` configures them (start.ts), with the lines going to /dev/null.
  const logger = createLogger({ destination: destination({ dest: "/dev/null", sync: false }) });
  const app = buildHttpApp({ tessera, logger, metrics: new TesseraMetrics({ processMetrics: true }) });
  const guard = tesseraGuard({ tessera });
  app.get("/bench/public", async () => ({ ok: true }));
  app.get("/bench/private", { preHandler: guard }, async () => ({ ok: true }));
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  const peers: Peer[] = [];
  try {
    await tessera.register({ username: "bench", password: "bench-password" });
    const login = await tessera.login({ username: "bench", password: "bench-password" });
    const { accessToken } = await tessera.upgrade(login.accessToken);
    const auth = { authorization: `Bearer ${accessToken}` };
    const connections = 32;
    const bare = await bareFastify();
    const jose = await fastifyJose();
    const redis = await expressSessionRedis();
    peers.push(bare, jose, ...(redis === null ? [] : [redis]));

    const names = {
      privateRoute: "tessera GET /bench/private (guard, session token)",
      publicRoute: "tessera GET /bench/public (no auth, same body)",
      bare: "bare Fastify GET /bench/public (no logging, no metrics)",
    };
    const routes = await interleaved(
      "HTTP: tessera serve's app (default logging and metrics) vs bare Fastify and the peers",
      [
        { name: names.privateRoute, url: `${base}/bench/private`, headers: auth, connections },
        {
          name: "tessera GET /auth/session (session token)",
          url: `${base}/auth/session`,
          headers: auth,
          connections,
        },
        // The unauthenticated routes get the same request bytes (the header is ignored there),
        // so the difference is what authenticating costs, not parsing one more header.
        {
          name: "tessera GET /.well-known/jwks.json (no auth)",
          url: `${base}/.well-known/jwks.json`,
          headers: auth,
          connections,
        },
        { name: names.publicRoute, url: `${base}/bench/public`, headers: auth, connections },
        {
          name: "Fastify + jose (EdDSA JWT verified per request)",
          url: jose.url,
          headers: jose.headers,
          connections,
        },
        ...(redis === null
          ? []
          : [
              {
                name: "Express + express-session + connect-redis",
                url: redis.url,
                headers: redis.headers,
                connections,
              },
            ]),
        { name: names.bare, url: bare.url, headers: auth, connections },
      ].map(http),
      "req/s",
    );
    if (redis === null) note("express-session + connect-redis skipped: no Redis on 127.0.0.1:6379");
    note(
      ratioLine(
        "tessera open route / bare Fastify",
        pick(routes, names.publicRoute),
        pick(routes, names.bare),
        "≥ 0.90×",
        (r) => r >= 0.9,
      ),
    );
    note(
      ratioLine(
        "tessera authenticated route / its open route",
        pick(routes, names.privateRoute),
        pick(routes, names.publicRoute),
        "≥ 0.95×",
        (r) => r >= 0.95,
      ),
    );

    const concurrency = tessera.passwordConcurrency;
    const body = JSON.stringify({ username: "bench", password: "bench-password" });
    const loginTarget: Target = {
      name: "POST /auth/login",
      url: `${base}/auth/login`,
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      connections: concurrency * 4,
    };
    const rawName = `raw argon2 verify, ${concurrency} at once`;
    const results = await interleaved(
      `HTTP: login throughput vs the raw argon2 limit (argon2id m=${passwords.memoryCost} t=${passwords.timeCost} p=1, ${concurrency} hashing at once of ${availableParallelism()} cores)`,
      [http(loginTarget), { name: rawName, measure: await rawArgon2(passwords, concurrency) }],
      "ops/s",
    );
    note(
      ratioLine(
        "login / raw argon2",
        pick(results, "POST /auth/login"),
        pick(results, rawName),
        "≥ 0.90×",
        (r) => r >= 0.9,
      ),
    );

    // Validation latency with nothing else going on, then while 64 clients flood the login.
    const probe: Target = {
      name: "validation probe",
      url: `${base}/bench/private`,
      headers: auth,
      connections: 4,
    };
    const idle = await latency(probe, 4);
    const flood = autocannon({
      url: loginTarget.url,
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      connections: 64,
      workers: 1,
      duration: 6,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = await latency(probe, 4);
    await flood;
    printTable(
      "HTTP: validation latency (GET /bench/private, 4 connections), p99 in ms: during a login flood (64 connections) vs idle",
      [
        { name: "p99 during the login flood", opsPerSecond: busy.p99 },
        { name: "p99 idle", opsPerSecond: idle.p99 },
      ],
      "ms",
    );
    note(
      `validation p50 idle ${idle.p50} ms, during the flood ${busy.p50} ms; ` +
        ratioLine(
          "p99 flood / idle",
          busy.p99,
          Math.max(idle.p99, 1),
          "≤ 2× (idle p99 floored at 1 ms)",
          (r) => r <= 2,
        ),
    );
  } finally {
    for (const peer of peers) await peer.close();
    await app.close();
    logger.flush();
    tessera.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
