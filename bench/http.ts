/**
 * Issue 3's claims, measured over a real port with autocannon (load generator and server in
 * one process, interleaved rounds, median of the rounds):
 *
 * 1. An authenticated route (session token, cache hot) against the same server's
 *    unauthenticated route — both as the server's own routes (`GET /auth/session` against
 *    `GET /.well-known/jwks.json`) and as the cleanest comparison: two routes answering the
 *    same tiny body, one behind the Fastify guard. Target ≥ 0.9×.
 * 2. `POST /auth/login` throughput against the raw argon2id verify limit at the same
 *    parameters and concurrency. Target ≥ 0.9×.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { hash, verify } from "@node-rs/argon2";
import autocannon from "autocannon";
import { Tessera } from "../src/engine/tessera.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { tesseraGuard } from "../src/surfaces/middleware/fastify.js";
import { median, printTable, type Result } from "./measure.js";

const ROUND_SECONDS = 3;
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

export async function benchHttp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-http-"));
  const store = SqliteStore.open({ path: join(dir, "tessera.db") });
  const passwords = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
  const tessera = await Tessera.create({ store, passwords, loginThrottle: false });
  const app = buildHttpApp({ tessera });
  const guard = tesseraGuard({ tessera });
  app.get("/bench/public", async () => ({ ok: true }));
  app.get("/bench/private", { preHandler: guard }, async () => ({ ok: true }));
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    await tessera.register({ username: "bench", password: "bench-password" });
    const login = await tessera.login({ username: "bench", password: "bench-password" });
    const { accessToken } = await tessera.upgrade(login.accessToken);
    const auth = { authorization: `Bearer ${accessToken}` };
    const connections = 32;

    const routes = await interleaved(
      "HTTP: authenticated route (session token) vs the same server's unauthenticated route",
      [
        {
          name: "GET /bench/private (guard, session token)",
          url: `${base}/bench/private`,
          headers: auth,
          connections,
        },
        {
          name: "GET /auth/session (session token)",
          url: `${base}/auth/session`,
          headers: auth,
          connections,
        },
        // The unauthenticated routes get the same request bytes (the header is ignored there),
        // so the difference is what authenticating costs, not parsing one more header.
        {
          name: "GET /.well-known/jwks.json (no auth)",
          url: `${base}/.well-known/jwks.json`,
          headers: auth,
          connections,
        },
        {
          name: "GET /bench/public (no auth, same body)",
          url: `${base}/bench/public`,
          headers: auth,
          connections,
        },
      ].map(http),
      "req/s",
    );
    const [guarded, session, jwks, open] = routes;
    if (guarded && open && session && jwks) {
      console.log(
        `\nauthenticated / unauthenticated: ${(guarded.opsPerSecond / open.opsPerSecond).toFixed(2)}× ` +
          `(same body, guard vs none); ${(session.opsPerSecond / jwks.opsPerSecond).toFixed(2)}× ` +
          "(/auth/session vs /.well-known/jwks.json). Target ≥ 0.90×.",
      );
    }

    const concurrency = availableParallelism();
    const body = JSON.stringify({ username: "bench", password: "bench-password" });
    const results = await interleaved(
      `HTTP: login throughput vs the raw argon2 limit (argon2id m=${passwords.memoryCost} t=${passwords.timeCost} p=1, ${concurrency} hashing at once)`,
      [
        http({
          name: "POST /auth/login",
          url: `${base}/auth/login`,
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          connections: concurrency * 4,
        }),
        {
          name: `raw argon2 verify, ${concurrency} at once`,
          measure: await rawArgon2(passwords, concurrency),
        },
      ],
      "ops/s",
    );
    const [loginResult, raw] = results;
    if (loginResult && raw) {
      console.log(
        `\nlogin / raw argon2: ${(loginResult.opsPerSecond / raw.opsPerSecond).toFixed(2)}×. Target ≥ 0.90×.`,
      );
    }
  } finally {
    await app.close();
    tessera.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
