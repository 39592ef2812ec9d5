/**
 * Issue 4's figures: authenticated messages per second through a gate (WebSocket and TCP)
 * with the server on one core, against plain `ws` and `net` echo servers doing no
 * authentication (the transport's own ceiling), and how many authenticated WebSockets one
 * process holds. The memory each idle authenticated connection costs: `memory.ts`.
 *
 * The clients run in a child process (`socket-load.ts`) so that the server's core is the
 * one measured; the server's CPU use during each run is printed beside its rate.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { WebSocketServer } from "ws";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import { startTcpGateway } from "../src/surfaces/socket/tcp.js";
import { attachWebSocketGateway } from "../src/surfaces/socket/websocket.js";
import { format, median } from "./measure.js";
import { benchSessionTokens, settledHeap } from "./memory.js";
import type { LoadCommand, LoadResult } from "./socket-load.js";

const FLOOD = { connections: 50, window: 16, durationMs: 2000 };
const ROUNDS = 3;
const HOLD_TARGET = 10_000;

function portOf(server: Server | ReturnType<typeof createTcpServer>): number {
  return (server.address() as AddressInfo).port;
}

/** The transport's ceiling: answers `auth` with `ready` and echoes messages, no checks at all. */
function plainAnswer(text: string): string | null {
  const frame = JSON.parse(text) as { type: string; id?: string; data?: unknown };
  if (frame.type === "auth") return '{"type":"ready"}';
  if (frame.type === "message") return JSON.stringify({ type: "reply", id: frame.id, data: frame.data });
  return null;
}

export async function benchSockets(): Promise<void> {
  const store = new MemoryStore();
  const tessera = await Tessera.create({
    store,
    passwords: { memoryCost: 1024, timeCost: 1 },
    loginThrottle: false,
  });
  const gates = new GateRegistry().register("echo", ({ data }) => data);
  const limits = { framesPerSecond: 1e9, maxConnections: 50_000 };
  const http = createServer();
  const ws = attachWebSocketGateway({ server: http, tessera, gates, ...limits });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const tcp = await startTcpGateway({ tessera, gates, port: 0, host: "127.0.0.1", ...limits });

  const plainWs = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  plainWs.on("connection", (socket) =>
    socket
      .on("error", () => socket.terminate())
      .on("message", (data) => {
        const answer = plainAnswer(String(data));
        if (answer !== null) socket.send(answer);
      }),
  );
  await once(plainWs, "listening");
  const plainTcp = createTcpServer((socket) => {
    let buffered = "";
    socket.on("error", () => socket.destroy());
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf("\n");
      while (newline !== -1) {
        const answer = plainAnswer(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        if (answer !== null) socket.write(`${answer}\n`);
        newline = buffered.indexOf("\n");
      }
    });
  }).listen(0, "127.0.0.1");
  await once(plainTcp, "listening");

  const tokens = await benchSessionTokens(tessera, 100);
  const token = tokens[0] ?? "";

  const child = fork(new URL("./socket-load.js", import.meta.url));
  const ask = async (command: LoadCommand): Promise<LoadResult> => {
    child.send(command);
    const [result] = (await once(child, "message")) as [LoadResult];
    return result;
  };

  const wsUrl = `ws://127.0.0.1:${portOf(http)}/ws`;
  const targets = [
    { name: "Tessera WebSocket gateway, gate `echo`", transport: "websocket", target: wsUrl },
    { name: "Tessera TCP gateway, gate `echo`", transport: "tcp", target: String(tcp.port) },
    {
      name: "(plain ws echo, no auth)",
      transport: "websocket",
      target: `ws://127.0.0.1:${(plainWs.address() as AddressInfo).port}`,
    },
    { name: "(plain net line echo, no auth)", transport: "tcp", target: String(portOf(plainTcp)) },
  ] as const;
  // Interleaved rounds, medians: a noisy neighbour hurts every candidate alike.
  const samples = new Map<string, { rate: number[]; perCpu: number[]; cpu: number[] }>(
    targets.map((t) => [t.name, { rate: [], perCpu: [], cpu: [] }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, transport, target } of targets) {
      const before = process.cpuUsage();
      const outcome = await ask({ cmd: "flood", transport, target, token, ...FLOOD });
      const used = process.cpuUsage(before);
      if (!("replies" in outcome)) throw new Error("unexpected answer from the load process");
      const rate = (outcome.replies / outcome.elapsedMs) * 1000;
      const busy = (used.user + used.system) / 1000 / outcome.elapsedMs;
      const sample = samples.get(name);
      sample?.rate.push(rate);
      sample?.cpu.push(busy);
      sample?.perCpu.push(rate / busy);
    }
  }
  console.log(
    `\n## sockets: authenticated messages/s through a gate (${FLOOD.connections} connections × ${FLOOD.window} in flight, clients in a child process)`,
  );
  console.log("| candidate | messages/s | server CPU | messages per server CPU-second |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const { name } of targets) {
    const sample = samples.get(name);
    if (sample === undefined) continue;
    const cpuShare = `${(median(sample.cpu) * 100).toFixed(0)}%`;
    console.log(
      `| ${name} | ${format(median(sample.rate))} | ${cpuShare} | ${format(median(sample.perCpu))} |`,
    );
  }
  // On a small machine the client process, not the server, may set the pace; the last
  // column is the server's own cost whatever the pace.

  // Memory per idle authenticated connection: the `memory` section (beside plain `ws`).
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the released sockets close
  const started = performance.now();
  const held = await ask({ cmd: "hold", transport: "websocket", target: wsUrl, tokens, count: HOLD_TARGET });
  const seconds = (performance.now() - started) / 1000;
  if (!("opened" in held)) throw new Error("unexpected answer from the load process");
  const memory = { heap: await settledHeap(), rss: process.memoryUsage().rss };
  console.log(`\n## sockets: concurrent authenticated WebSockets in one process`);
  console.log(
    `${format(held.opened)} of ${format(HOLD_TARGET)} opened and authenticated in ${seconds.toFixed(1)} s ` +
      `(server counts ${format(ws.connections())}); server RSS ${format(memory.rss / 2 ** 20)} MiB, ` +
      `heap ${format(memory.heap / 2 ** 20)} MiB` +
      (held.failed > 0 ? `; stopped at the first failure: ${held.firstError}` : ""),
  );
  await ask({ cmd: "release" });
  child.send({ cmd: "exit" } satisfies LoadCommand);

  await ws.close();
  await tcp.close();
  http.close();
  plainWs.close();
  plainTcp.close();
  tessera.close();
  await store.close();
}
