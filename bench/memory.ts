/**
 * Issue 15, target 6: heap per cached session (≤ 500 B) and per idle authenticated
 * WebSocket (≤ 3 KiB), each beside its floor measured the same way in the same run:
 *
 * - cached sessions: N sessions in a real SQLite store, each validated once through the
 *   engine (which fills the session cache); V8 heap after a full GC, minus the heap before,
 *   over N. Floor: a bare `Map` of N token digests (fresh 43-character strings, as the cache
 *   keys are) to a small object `{ userId, expiresAt }`.
 * - idle WebSockets: N connections opened and authenticated by a child process, held idle;
 *   the server's heap delta over N, against plain `ws` holding as many (answering the auth
 *   frame with `ready`, nothing else).
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { WebSocketServer } from "ws";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import { attachWebSocketGateway } from "../src/surfaces/socket/websocket.js";
import { digestToken, generateOpaqueToken } from "../src/tokens/opaque.js";
import { median, note, printTable } from "./measure.js";
import type { LoadCommand, LoadResult } from "./socket-load.js";
import { newSession } from "./stores.js";

const SESSIONS = 20_000;
const CONNECTIONS = 2000;
const ROUNDS = 3;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap in use after full collections (and a pause for sockets' finalisers). */
export async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed;
}

/** Registers the bench user and answers `count` session tokens of theirs. */
export async function benchSessionTokens(tessera: Tessera, count: number): Promise<string[]> {
  await tessera.register({ username: "bench", password: "bench-password" });
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const login = await tessera.login({ username: "bench", password: "bench-password" });
    tokens.push((await tessera.upgrade(login.accessToken)).accessToken);
  }
  return tokens;
}

async function perCachedSession(): Promise<{ tessera: number; floor: number }> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-memory-"));
  const store = SqliteStore.open({ path: join(dir, "tessera.db") });
  const tessera = await Tessera.create({
    store,
    passwords: { memoryCost: 1024, timeCost: 1 },
    loginThrottle: false,
    cacheMaxEntries: SESSIONS * 2,
  });
  try {
    const user = await tessera.register({ username: "bench", password: "bench-password" });
    const now = Date.now();
    const tokens: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const token = generateOpaqueToken("session");
      tokens.push(token);
      const input = newSession(user.id, now);
      await store.createSession({
        ...input,
        session: { ...input.session, sessionTokenHash: digestToken(token) },
      });
    }
    // One validation of a token warms every code path before the heap is read.
    await tessera.validate(tokens[0] ?? "");
    const before = await settledHeap();
    for (const token of tokens) await tessera.validate(token);
    const after = await settledHeap();
    const tesseraBytes = (after - before) / (SESSIONS - 1);

    const floorBefore = await settledHeap();
    const map = new Map<string, { userId: number; expiresAt: number }>();
    for (let i = 0; i < SESSIONS; i++)
      map.set(digestToken(generateOpaqueToken("session")), { userId: user.id, expiresAt: now + 3_600_000 });
    const floorAfter = await settledHeap();
    if (map.size !== SESSIONS) throw new Error("floor map incomplete");
    return { tessera: tesseraBytes, floor: (floorAfter - floorBefore) / SESSIONS };
  } finally {
    tessera.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function perIdleWebSocket(): Promise<{ tessera: number[]; plain: number[] }> {
  const store = new MemoryStore();
  const tessera = await Tessera.create({
    store,
    passwords: { memoryCost: 1024, timeCost: 1 },
    loginThrottle: false,
  });
  const http = createServer();
  const gateway = attachWebSocketGateway({
    server: http,
    tessera,
    gates: new GateRegistry(),
    framesPerSecond: 1e9,
    maxConnections: 50_000,
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const plain = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  plain.on("connection", (socket) =>
    socket
      .on("error", () => socket.terminate())
      .on("message", (data) => {
        if ((JSON.parse(String(data)) as { type?: string }).type === "auth") socket.send('{"type":"ready"}');
      }),
  );
  await once(plain, "listening");
  const tokens = await benchSessionTokens(tessera, 100);
  const child = fork(new URL("./socket-load.js", import.meta.url));
  const ask = async (command: LoadCommand): Promise<LoadResult> => {
    child.send(command);
    const [result] = (await once(child, "message")) as [LoadResult];
    return result;
  };
  const targets = [
    ["tessera", `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`],
    ["plain", `ws://127.0.0.1:${(plain.address() as AddressInfo).port}`],
  ] as const;
  const samples = { tessera: [] as number[], plain: [] as number[] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, target] of targets) {
        const before = await settledHeap();
        const held = await ask({ cmd: "hold", transport: "websocket", target, tokens, count: CONNECTIONS });
        const after = await settledHeap();
        await ask({ cmd: "release" });
        if (!("opened" in held) || held.opened < CONNECTIONS)
          throw new Error(`${name}: held ${"opened" in held ? held.opened : 0} of ${CONNECTIONS} WebSockets`);
        samples[name].push((after - before) / held.opened);
        await new Promise((resolve) => setTimeout(resolve, 300)); // the released sockets close
      }
    }
  } finally {
    child.send({ cmd: "exit" } satisfies LoadCommand);
    await gateway.close();
    http.close();
    plain.close();
    tessera.close();
    await store.close();
  }
  return samples;
}

export async function benchMemory(): Promise<void> {
  const sessions = await perCachedSession();
  printTable(
    `memory: V8 heap per cached session (${SESSIONS.toLocaleString("en-US")} sessions on SQLite, each validated once; heap after a full GC)`,
    [
      { name: "tessera session cache, per session", opsPerSecond: sessions.tessera },
      { name: "floor: Map of token digest → { userId, expiresAt }, per entry", opsPerSecond: sessions.floor },
    ],
    "bytes",
  );
  note(
    `heap per cached session: ${Math.round(sessions.tessera)} B (floor ${Math.round(sessions.floor)} B); target ≤ 500 B: ${sessions.tessera <= 500 ? "met" : "NOT met"}`,
  );
  const sockets = await perIdleWebSocket();
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
  printTable(
    `memory: server heap per idle authenticated WebSocket (${CONNECTIONS.toLocaleString("en-US")} held by a child process; median of ${ROUNDS} alternating rounds)`,
    [
      { name: "Tessera WebSocket gateway (authenticated)", opsPerSecond: median(sockets.tessera) },
      { name: "floor: plain ws (auth frame answered, nothing kept)", opsPerSecond: median(sockets.plain) },
    ],
    "bytes",
  );
  note(
    `heap per idle authenticated WebSocket: ${kib(median(sockets.tessera))} (rounds ${sockets.tessera.map(kib).join(", ")}; plain ws ${sockets.plain.map(kib).join(", ")}); target ≤ 3 KiB: ${median(sockets.tessera) <= 3072 ? "met" : "NOT met"}`,
  );
}
