/**
 * How soon a revocation closes the session's sockets (the contract's "within 100 ms"),
 * measured here rather than asserted in the tests, where a busy machine would fail a wall
 * clock bound: from the `logout` call to the client's close event, for WebSocket and TCP,
 * on the memory store and on SQLite, printed as p50/p99 and as a share of the bound.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import type { SessionStore } from "../src/stores/session-store.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import { startTcpGateway } from "../src/surfaces/socket/tcp.js";
import { attachWebSocketGateway } from "../src/surfaces/socket/websocket.js";
import { note, percentile } from "./measure.js";

const ROUNDS = 200;
const BOUND_MS = 100;

async function measure(store: SessionStore): Promise<Record<"websocket" | "tcp", number[]>> {
  const tessera = await Tessera.create({
    store,
    passwords: { memoryCost: 1024, timeCost: 1 },
    loginThrottle: false,
  });
  const gates = new GateRegistry();
  const http = createServer();
  const ws = attachWebSocketGateway({ server: http, tessera, gates });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const tcp = await startTcpGateway({ tessera, gates, port: 0, host: "127.0.0.1" });
  await tessera.register({ username: "bench", password: "secret123" });
  const samples = { websocket: [] as number[], tcp: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    const pair = await tessera.login({ username: "bench", password: "secret123", tokenType: "session" });
    const socket = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`, {
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    await once(socket, "message"); // ready
    const line = connect(tcp.port, "127.0.0.1");
    line.write(`${JSON.stringify({ type: "auth", token: pair.accessToken })}\n`);
    await once(line, "data"); // ready
    const wsClosed = once(socket, "close").then(() => performance.now());
    const tcpClosed = once(line, "close").then(() => performance.now());
    const started = performance.now();
    await tessera.logout(pair.sessionId);
    samples.websocket.push((await wsClosed) - started);
    samples.tcp.push((await tcpClosed) - started);
  }
  await ws.close();
  await tcp.close();
  http.close();
  tessera.close();
  await store.close();
  return samples;
}

export async function benchRevocation(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-"));
  const results = [
    ["memory", await measure(new MemoryStore())],
    ["sqlite", await measure(SqliteStore.open({ path: join(dir, "tessera.db") }))],
  ] as const;
  rmSync(dir, { recursive: true, force: true });
  const lines = [
    `## revocation → socket close (${ROUNDS} logouts; the contract's bound is ${BOUND_MS} ms)`,
    "| store | transport | p50 ms | p99 ms | p99 / bound |",
    "| --- | --- | ---: | ---: | ---: |",
  ];
  for (const [store, samples] of results) {
    for (const transport of ["websocket", "tcp"] as const) {
      const p50 = percentile(samples[transport], 50, transport);
      const p99 = percentile(samples[transport], 99, transport);
      lines.push(
        `| ${store} | ${transport} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${(p99 / BOUND_MS).toFixed(3)} |`,
      );
    }
  }
  note(lines.join("\n"));
}
