/**
 * One HTTP server of the `http` bench, in a process of its own (forked by `http.ts`), so that
 * each server under load has a core to itself and the load generator another: nothing of
 * the bench process (autocannon, its garbage, the other servers) runs on the measured
 * server's event loop. Started as `node http-server.js <kind>`; answers
 * `{ url, headers }` (the base URL and the request headers that authenticate) over IPC
 * once it listens, and exits on `"exit"`.
 *
 * - `tessera`: the HTTP app as `tessera serve` builds it (start.ts: default pino logging
 *   on stdout, asynchronous — stdout is /dev/null here — and metrics with process metrics)
 *   on SQLite, plus `GET /bench/public` and `GET /bench/private` (the Fastify guard) with
 *   the same body;
 * - `bare`: bare Fastify, no logging, no metrics, the same `GET /bench/public` and a
 *   `GET /livez` answering what `tessera serve`'s does;
 * - `jose`, `express-redis`: the peers of `peers.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { Tessera } from "../src/engine/tessera.js";
import { createLogger } from "../src/server/logger.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { TesseraMetrics } from "../src/surfaces/http/metrics.js";
import { tesseraGuard } from "../src/surfaces/middleware/fastify.js";
import { expressSessionRedis, fastifyJose } from "./peers.js";

export type ServerKind = "tessera" | "bare" | "jose" | "express-redis";

export interface ServerReady {
  /** Base URL, or null when the server cannot run here (no Redis). */
  readonly url: string | null;
  readonly headers: Record<string, string>;
}

/** The argon2 parameters of the login rows (the bench's raw argon2 uses the same). */
export const BENCH_PASSWORDS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
export const BENCH_USER = { username: "bench", password: "bench-password" } as const;

async function tessera(): Promise<{ ready: ServerReady; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-http-"));
  const store = SqliteStore.open({ path: join(dir, "tessera.db") });
  const engine = await Tessera.create({ store, passwords: BENCH_PASSWORDS, loginThrottle: false });
  // As `startServer` configures them: pino on stdout, metrics with process metrics.
  const logger = createLogger();
  const app = buildHttpApp({
    tessera: engine,
    logger,
    metrics: new TesseraMetrics({ processMetrics: true }),
  });
  const guard = tesseraGuard({ tessera: engine });
  app.get("/bench/public", async () => ({ ok: true }));
  app.get("/bench/private", { preHandler: guard }, async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  await engine.register(BENCH_USER);
  const login = await engine.login(BENCH_USER);
  const { accessToken } = await engine.upgrade(login.accessToken);
  return {
    ready: { url, headers: { authorization: `Bearer ${accessToken}` } },
    async close() {
      await app.close();
      engine.close();
      await store.close();
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function bare(): Promise<{ ready: ServerReady; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  app.get("/bench/public", async () => ({ ok: true }));
  app.get("/livez", async () => ({ status: "ok" }));
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { ready: { url, headers: {} }, close: () => app.close() };
}

async function start(kind: ServerKind): Promise<{ ready: ServerReady; close: () => Promise<void> }> {
  switch (kind) {
    case "tessera":
      return tessera();
    case "bare":
      return bare();
    case "jose": {
      const peer = await fastifyJose();
      return { ready: { url: new URL(peer.url).origin, headers: peer.headers }, close: () => peer.close() };
    }
    case "express-redis": {
      const peer = await expressSessionRedis();
      if (peer === null) return { ready: { url: null, headers: {} }, close: async () => undefined };
      return { ready: { url: new URL(peer.url).origin, headers: peer.headers }, close: () => peer.close() };
    }
  }
}

const running = await start(process.argv[2] as ServerKind);
process.send?.(running.ready);
process.on("message", (message) => {
  if (message !== "exit") return;
  void running.close().finally(() => process.exit(0));
});
