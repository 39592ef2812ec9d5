/**
 * Issue 15, targets 1 and 4, over real ports. Every server runs in a process of its own
 * (`http-server.ts`, or the real `tessera serve`), one at a time under load, and this process
 * is the load generator (autocannon, same settings for every candidate). Rounds alternate
 * between the candidates and each figure is the median of the rounds; beside requests per
 * second, the server process's own CPU time gives requests per server CPU-second, which a
 * busy neighbour or a slow client moves much less.
 *
 * 1. The HTTP app as `tessera serve` builds it — default logging (pino, asynchronous, to
 *    /dev/null) and metrics (with process metrics) — against a bare Fastify app serving the
 *    same route (target ≥ 0.9×); the real `tessera serve` binary's `GET /livez` against bare
 *    Fastify's; its authenticated route against its own open route with the same body
 *    (target ≥ 0.95×); and the peers (Fastify + jose, express-session + Redis).
 * 2. `POST /auth/login` throughput against raw argon2id at the same parameters and
 *    concurrency (target ≥ 0.9×), and validation p99 during a login flood against idle
 *    (target ≤ 2×), from a probe timing each request itself (a window without samples is an
 *    error, never a 0 ms figure).
 */

import { type ChildProcess, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { hash, verify } from "@node-rs/argon2";
import autocannon from "autocannon";
import { BENCH_PASSWORDS, BENCH_USER, type ServerKind, type ServerReady } from "./http-server.js";
import { median, note, percentile, pick, printTable, type Result, ratioLine } from "./measure.js";

const ROUND_SECONDS = 3;
const ROUNDS = 5;
const CONNECTIONS = 32;
/** The login-flood measurement: rounds of an idle window then a flooded one. */
const FLOOD_ROUNDS = 3;
const PROBE_SECONDS = 3;
const PROBE_CONNECTIONS = 4;
const FLOOD_CONNECTIONS = 64;
/** A process that keeps one argon2id hash running at the login's parameters, nothing else. */
const ARGON2_HOG = `const { hash } = require("@node-rs/argon2"); (async () => { for (;;) await hash("x", ${JSON.stringify(BENCH_PASSWORDS)}); })();`;

interface Server {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly pid: number;
  close(): Promise<void>;
}

/** A bench server (`http-server.ts`) in a child process; null when it cannot run here. */
async function forkServer(kind: ServerKind): Promise<Server | null> {
  const child = fork(new URL("./http-server.js", import.meta.url), [kind], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const [ready] = (await Promise.race([
    once(child, "message"),
    once(child, "exit").then(([code]) => {
      throw new Error(`bench server ${kind} exited with ${code}`);
    }),
  ])) as [ServerReady];
  const close = async () => {
    if (child.exitCode !== null) return;
    child.send("exit");
    await once(child, "exit");
  };
  if (ready.url === null) {
    await close();
    return null;
  }
  return { url: ready.url, headers: ready.headers, pid: child.pid ?? 0, close };
}

/** The real `tessera serve` (compiled), on a fresh SQLite directory, gRPC off, logs to a file. */
async function spawnServe(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-serve-"));
  const logPath = join(dir, "stdout.log");
  const out = openSync(logPath, "w");
  const child: ChildProcess = spawn(
    process.execPath,
    [join(process.cwd(), "bin", "tessera.js"), "serve", ...serveFlags(dir)],
    { stdio: ["ignore", out, "inherit"] },
  );
  closeSync(out);
  let url: string | undefined;
  while (url === undefined) {
    if (child.exitCode !== null) throw new Error(`tessera serve exited with ${child.exitCode}`);
    url = /Tessera listening on (http:\/\/\S+)/.exec(readFileSync(logPath, "utf8"))?.[1];
    if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url,
    headers: {},
    pid: child.pid ?? 0,
    async close() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `tessera serve` on `dir` with every port picked by the system and gRPC off. */
export function serveFlags(dir: string): string[] {
  return ["--data-dir", dir, "--port", "0", "--tcp-port", "0", "--grpc", "off"];
}

/** User plus system CPU seconds a process has used so far (Linux `/proc`). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Target {
  readonly name: string;
  readonly server: Server;
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly connections: number;
}

interface Sample {
  readonly perSecond: number;
  /** Requests per CPU-second of the server process. */
  readonly perCpuSecond: number;
}

async function load(target: Target, seconds: number): Promise<Sample> {
  const cpuBefore = cpuSecondsOf(target.server.pid);
  const result = await autocannon({
    url: `${target.server.url}${target.path}`,
    connections: target.connections,
    duration: seconds,
    ...(target.method === undefined ? {} : { method: target.method }),
    ...(target.headers === undefined ? {} : { headers: target.headers }),
    ...(target.body === undefined ? {} : { body: target.body }),
  });
  const cpu = cpuSecondsOf(target.server.pid) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0 || result.requests.total === 0) {
    throw new Error(
      `${target.name}: ${result.requests.total} requests, ${result.non2xx} non-2xx answers, ${result.errors} errors`,
    );
  }
  return {
    perSecond: result.requests.total / seconds,
    perCpuSecond: result.requests.total / Math.max(cpu, 0.01),
  };
}

interface Candidate {
  readonly name: string;
  /** Runs for `seconds`; answers the rate and, when a server process is measured, its CPU cost. */
  readonly measure: (seconds: number) => Promise<Sample>;
}

const http = (target: Target): Candidate => ({
  name: target.name,
  measure: (seconds) => load(target, seconds),
});

interface Measured {
  readonly perSecond: Result[];
  readonly perCpuSecond: Result[];
}

/** Rounds alternate between the candidates, so a noisy neighbour hurts them all alike. */
async function interleaved(candidates: readonly Candidate[]): Promise<Measured> {
  for (const candidate of candidates) await candidate.measure(1); // warm-up
  const samples = new Map<string, Sample[]>(candidates.map((candidate) => [candidate.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const candidate of candidates)
      samples.get(candidate.name)?.push(await candidate.measure(ROUND_SECONDS));
  }
  const of = (name: string, field: keyof Sample) => median((samples.get(name) ?? []).map((s) => s[field]));
  return {
    perSecond: candidates.map((c) => ({ name: c.name, opsPerSecond: of(c.name, "perSecond") })),
    perCpuSecond: candidates.map((c) => ({ name: c.name, opsPerSecond: of(c.name, "perCpuSecond") })),
  };
}

/** A measurer of argon2id verifications per second with `concurrency` in flight, as the login limiter allows. */
async function rawArgon2(concurrency: number): Promise<(seconds: number) => Promise<Sample>> {
  const phc = await hash(BENCH_USER.password, { ...BENCH_PASSWORDS, algorithm: 2 });
  return async (seconds: number) => {
    const end = performance.now() + seconds * 1000;
    let count = 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await verify(phc, BENCH_USER.password);
          count++;
        }
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    return {
      perSecond: (count / (performance.now() - started)) * 1000,
      perCpuSecond: count / ((cpu.user + cpu.system) / 1e6),
    };
  };
}

/**
 * Latencies (ms) of `GET url` from `connections` keep-alive connections, each timing its own
 * requests one after the other, for `seconds`.
 */
async function probe(url: string, headers: Record<string, string>, connections: number, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      request(url, { agent, headers }, (response) => {
        response.resume();
        response.on("end", () => {
          if (response.statusCode !== 200) reject(new Error(`probe: status ${response.statusCode}`));
          else {
            latencies.push(performance.now() - started);
            resolve();
          }
        });
      })
        .on("error", reject)
        .end();
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) await once();
    }),
  );
  agent.destroy();
  return latencies;
}

export async function benchHttp(): Promise<void> {
  const servers: Server[] = [];
  const started = async <T extends Server | null>(server: Promise<T>): Promise<T> => {
    const value = await server;
    if (value !== null) servers.push(value);
    return value;
  };
  try {
    const tessera = await started(forkServer("tessera"));
    const serve = await started(spawnServe());
    const bare = await started(forkServer("bare"));
    const jose = await started(forkServer("jose"));
    const redis = await started(forkServer("express-redis"));
    if (tessera === null || bare === null || jose === null) throw new Error("a bench server did not start");
    const auth = tessera.headers;
    const names = {
      privateRoute: "tessera GET /bench/private (guard, session token)",
      publicRoute: "tessera GET /bench/public (no auth, same body)",
      serveLivez: "`tessera serve` (the binary) GET /livez",
      bareLivez: "bare Fastify GET /livez (same body)",
      bare: "bare Fastify GET /bench/public (no logging, no metrics)",
    };
    // The unauthenticated routes get the same request bytes (the header is ignored there),
    // so the difference is what authenticating costs, not parsing one more header.
    const targets: Target[] = [
      {
        name: names.privateRoute,
        server: tessera,
        path: "/bench/private",
        headers: auth,
        connections: CONNECTIONS,
      },
      {
        name: "tessera GET /auth/session (session token)",
        server: tessera,
        path: "/auth/session",
        headers: auth,
        connections: CONNECTIONS,
      },
      {
        name: "tessera GET /.well-known/jwks.json (no auth)",
        server: tessera,
        path: "/.well-known/jwks.json",
        headers: auth,
        connections: CONNECTIONS,
      },
      {
        name: names.publicRoute,
        server: tessera,
        path: "/bench/public",
        headers: auth,
        connections: CONNECTIONS,
      },
      { name: names.serveLivez, server: serve, path: "/livez", headers: auth, connections: CONNECTIONS },
      { name: names.bareLivez, server: bare, path: "/livez", headers: auth, connections: CONNECTIONS },
      {
        name: "Fastify + jose (EdDSA JWT verified per request)",
        server: jose,
        path: "/bench/private",
        headers: jose.headers,
        connections: CONNECTIONS,
      },
      ...(redis === null
        ? []
        : [
            {
              name: "Express + express-session + connect-redis",
              server: redis,
              path: "/bench/private",
              headers: redis.headers,
              connections: CONNECTIONS,
            },
          ]),
      { name: names.bare, server: bare, path: "/bench/public", headers: auth, connections: CONNECTIONS },
    ];
    const routes = await interleaved(targets.map(http));
    const settings = `${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s, median; each server in its own process`;
    printTable(
      `HTTP: tessera serve's app (default logging and metrics) vs bare Fastify and the peers (${settings})`,
      routes.perSecond,
      "req/s",
    );
    printTable(
      "HTTP: the same rounds, requests per CPU-second of the server process",
      routes.perCpuSecond,
      "req/CPU-s",
    );
    if (redis === null) note("express-session + connect-redis skipped: no Redis on 127.0.0.1:6379");
    const verdicts: [string, string, string, number][] = [
      ["tessera open route / bare Fastify", names.publicRoute, names.bare, 0.9],
      ["`tessera serve` GET /livez / bare Fastify", names.serveLivez, names.bareLivez, 0.9],
      ["tessera authenticated route / its open route", names.privateRoute, names.publicRoute, 0.95],
    ];
    for (const [unit, measured] of [
      ["req/s", routes.perSecond],
      ["per server CPU-second", routes.perCpuSecond],
    ] as const) {
      for (const [label, a, b, floor] of verdicts) {
        const line = ratioLine(
          `${label} (${unit})`,
          pick(measured, a),
          pick(measured, b),
          `≥ ${floor.toFixed(2)}×`,
          (r) => r >= floor,
        );
        note(line);
      }
    }
    for (const server of [serve, jose, ...(redis === null ? [] : [redis])]) await server.close();
    // `BENCH_HTTP_THROUGHPUT_ONLY=1`: the route rounds above only, without the login part.
    if (process.env.BENCH_HTTP_THROUGHPUT_ONLY === "1") return;

    // The login limiter lets cores − 1 hashes run at once (at least one).
    const concurrency = Math.max(1, availableParallelism() - 1);
    const body = JSON.stringify(BENCH_USER);
    const loginTarget: Target = {
      name: "POST /auth/login",
      server: tessera,
      path: "/auth/login",
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      connections: concurrency * 4,
    };
    const rawName = `raw argon2 verify, ${concurrency} at once`;
    const logins = await interleaved([
      http(loginTarget),
      { name: rawName, measure: await rawArgon2(concurrency) },
    ]);
    printTable(
      `HTTP: login throughput vs the raw argon2 limit (argon2id m=${BENCH_PASSWORDS.memoryCost} t=${BENCH_PASSWORDS.timeCost} p=1, ${concurrency} hashing at once of ${availableParallelism()} cores)`,
      logins.perSecond,
      "ops/s",
    );
    note(
      ratioLine(
        "login / raw argon2",
        pick(logins.perSecond, "POST /auth/login"),
        pick(logins.perSecond, rawName),
        "≥ 0.90×",
        (r) => r >= 0.9,
      ),
    );

    // Validation latency with nothing else going on, then while 64 clients flood the login,
    // in alternating windows; each window's percentiles, then the median over the rounds.
    const probeUrl = `${tessera.url}/bench/private`;
    const windows = {
      idle: [] as { p50: number; p99: number; n: number }[],
      flood: [] as { p50: number; p99: number; n: number }[],
      hog: [] as { p50: number; p99: number; n: number }[],
    };
    const summary = (latencies: number[], what: string) => ({
      p50: percentile(latencies, 50, what),
      p99: percentile(latencies, 99, what),
      n: latencies.length,
    });
    await probe(probeUrl, auth, PROBE_CONNECTIONS, 1); // warm-up
    for (let round = 0; round < FLOOD_ROUNDS; round++) {
      windows.idle.push(
        summary(await probe(probeUrl, auth, PROBE_CONNECTIONS, PROBE_SECONDS), "idle validation probe"),
      );
      const flood = autocannon({
        url: `${tessera.url}/auth/login`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        connections: FLOOD_CONNECTIONS,
        duration: PROBE_SECONDS + 2,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the flood is under way
      windows.flood.push(
        summary(
          await probe(probeUrl, auth, PROBE_CONNECTIONS, PROBE_SECONDS),
          "validation probe during the login flood",
        ),
      );
      const flooded = await flood;
      if (flooded.requests.total === 0) throw new Error("the login flood got no answer");
      // The machine's own floor: the same probe while another process hashes on one core,
      // as the login limiter lets argon2 do (on a small machine the probe, the server and
      // the hashing then share what is left).
      const hog = spawn(process.execPath, ["-e", ARGON2_HOG], { stdio: "ignore", cwd: process.cwd() });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      windows.hog.push(
        summary(
          await probe(probeUrl, auth, PROBE_CONNECTIONS, PROBE_SECONDS),
          "validation probe beside a process hashing",
        ),
      );
      hog.kill();
      await once(hog, "exit");
    }
    const mid = (rows: { p50: number; p99: number; n: number }[], field: "p50" | "p99" | "n") =>
      median(rows.map((row) => row[field]));
    printTable(
      `HTTP: validation latency (GET /bench/private, ${PROBE_CONNECTIONS} keep-alive connections timed by the client), p99 in ms during a login flood (${FLOOD_CONNECTIONS} connections) vs idle, median of ${FLOOD_ROUNDS} alternating ${PROBE_SECONDS} s windows`,
      [
        { name: "p99 during the login flood", opsPerSecond: mid(windows.flood, "p99") },
        {
          name: "(machine floor) p99 while another process hashes argon2 on one core",
          opsPerSecond: mid(windows.hog, "p99"),
        },
        { name: "p99 idle", opsPerSecond: mid(windows.idle, "p99") },
      ],
      "ms",
    );
    const ms = (value: number) => value.toFixed(2);
    note(
      `validation p50 idle ${ms(mid(windows.idle, "p50"))} ms, during the flood ${ms(mid(windows.flood, "p50"))} ms; p99 idle ${windows.idle.map((w) => ms(w.p99)).join("/")} ms, flood ${windows.flood.map((w) => ms(w.p99)).join("/")} ms, beside a hashing process ${windows.hog.map((w) => ms(w.p99)).join("/")} ms; samples per window ${mid(windows.idle, "n")} idle, ${mid(windows.flood, "n")} flood; ` +
        ratioLine(
          "p99 flood / idle",
          mid(windows.flood, "p99"),
          mid(windows.idle, "p99"),
          "≤ 2×",
          (r) => r <= 2,
        ),
    );
  } finally {
    for (const server of servers) await server.close();
  }
}
