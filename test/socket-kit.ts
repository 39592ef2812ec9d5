/**
 * Socket test fixtures: both gateways on real ports (127.0.0.1:0) over a test engine, and
 * real clients (`ws`, `net`) behind one small interface, so a protocol test can run the
 * same steps over WebSocket and TCP. On TCP, where there are no close codes, `closed`
 * reports the code of the last `error` frame as the reason and `code: null`.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import WebSocket from "ws";
import type { TesseraOptions } from "../src/engine/options.js";
import type { Tessera } from "../src/engine/tessera.js";
import type { TokenPair } from "../src/engine/types.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import type { SocketLogger, SocketOptions } from "../src/surfaces/socket/socket-options.js";
import { startTcpGateway, type TcpGateway } from "../src/surfaces/socket/tcp.js";
import { attachWebSocketGateway, type WebSocketGateway } from "../src/surfaces/socket/websocket.js";
import { loggedIn, makeEngine, type TestClock } from "./kit.js";

export type Frame = Record<string, unknown> & { type: string };

export interface Closed {
  readonly code: number | null;
  readonly reason: string;
  /** `performance.now()` when the client saw the close. */
  readonly at: number;
}

export interface TestClient {
  send(frame: object): void;
  sendRaw(text: string): void;
  /** The next frame not yet taken (waits for it). Rejects if the connection closes first. */
  next(): Promise<Frame>;
  /** Every frame received so far, taken or not. */
  readonly received: Frame[];
  readonly closed: Promise<Closed>;
  close(): void;
}

export type Transport = "websocket" | "tcp";

export interface Gateways {
  readonly tessera: Tessera;
  readonly clock: TestClock;
  readonly gates: GateRegistry;
  readonly ws: WebSocketGateway;
  readonly tcp: TcpGateway;
  readonly server: Server;
  readonly wsUrl: string;
  readonly logged: { details: Record<string, unknown>; message: string }[];
  connect(transport: Transport, headers?: Record<string, string>): Promise<TestClient>;
  /** A logged-in, upgraded session: its pair carries a session token. */
  session(deviceId?: string): Promise<TokenPair>;
  close(): Promise<void>;
}

export async function startGateways(
  options: {
    engine?: Partial<TesseraOptions>;
    socket?: Partial<Omit<SocketOptions, "tessera" | "gates">>;
  } = {},
): Promise<Gateways> {
  const { tessera, store, clock } = await makeEngine(options.engine);
  const gates = new GateRegistry();
  const logged: { details: Record<string, unknown>; message: string }[] = [];
  const log: SocketLogger = { error: (details, message) => logged.push({ details, message }) };
  const server = createServer((_request, response) => response.writeHead(404).end());
  const common = { tessera, gates, clock, log, ...options.socket };
  const ws = attachWebSocketGateway({ server, ...common });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const httpPort = typeof address === "object" && address !== null ? address.port : 0;
  const tcp = await startTcpGateway({ port: 0, host: "127.0.0.1", ...common });
  const clients: TestClient[] = [];
  const wsUrl = `ws://127.0.0.1:${httpPort}/ws`;
  return {
    tessera,
    clock,
    gates,
    ws,
    tcp,
    server,
    wsUrl,
    logged,
    async connect(transport, headers) {
      const client =
        transport === "websocket" ? await openWebSocket(wsUrl, headers) : await openTcp(tcp.port);
      clients.push(client);
      return client;
    },
    async session(deviceId) {
      const { pair } = await loggedIn(tessera, deviceId);
      return tessera.upgrade(pair.accessToken);
    },
    async close() {
      for (const client of clients) client.close();
      await ws.close();
      await tcp.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      tessera.close();
      await store.close();
    },
  };
}

/** Frames in arrival order, handed out one at a time to `next()`. */
function frameQueue(closed: Promise<Closed>) {
  const received: Frame[] = [];
  const waiting: ((frame: Frame) => void)[] = [];
  let taken = 0;
  let isClosed = false;
  void closed.then(() => {
    isClosed = true;
  });
  return {
    received,
    push(frame: Frame) {
      received.push(frame);
      const waiter = waiting.shift();
      if (waiter !== undefined) {
        taken += 1;
        waiter(frame);
      }
    },
    next(): Promise<Frame> {
      const ready = received[taken];
      if (ready !== undefined) {
        taken += 1;
        return Promise.resolve(ready);
      }
      if (isClosed) return Promise.reject(new Error("connection closed before the next frame"));
      return new Promise<Frame>((resolve, reject) => {
        waiting.push(resolve);
        void closed.then(() =>
          setImmediate(() => reject(new Error("connection closed before the next frame"))),
        );
      });
    },
  };
}

export async function openWebSocket(
  url: string,
  headers: Record<string, string> = {},
  options: { autoPong?: boolean } = {},
): Promise<TestClient & { readonly socket: WebSocket }> {
  const socket = new WebSocket(url, { headers, autoPong: options.autoPong ?? true });
  const closed = new Promise<Closed>((resolve) => {
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString(), at: performance.now() }));
  });
  const queue = frameQueue(closed);
  socket.on("message", (data) => queue.push(JSON.parse(String(data)) as Frame));
  socket.on("error", () => {});
  await once(socket, "open");
  return {
    socket,
    received: queue.received,
    closed,
    next: queue.next,
    send: (frame) => socket.send(JSON.stringify(frame)),
    sendRaw: (text) => socket.send(text),
    close: () => socket.terminate(),
  };
}

export async function openTcp(port: number): Promise<TestClient & { readonly socket: Socket }> {
  const socket = connect({ port, host: "127.0.0.1" });
  let lastErrorCode = "";
  const closed = new Promise<Closed>((resolve) => {
    socket.on("close", () => resolve({ code: null, reason: lastErrorCode, at: performance.now() }));
  });
  const queue = frameQueue(closed);
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      const frame = JSON.parse(buffered.slice(0, newline)) as Frame;
      buffered = buffered.slice(newline + 1);
      if (frame.type === "error") lastErrorCode = String(frame.code);
      queue.push(frame);
      newline = buffered.indexOf("\n");
    }
  });
  socket.on("error", () => {});
  await once(socket, "connect");
  return {
    socket,
    received: queue.received,
    closed,
    next: queue.next,
    send: (frame) => socket.write(`${JSON.stringify(frame)}\n`),
    sendRaw: (text) => socket.write(text),
    close: () => socket.destroy(),
  };
}

/** The close a transport shows for an error code: 4401-style on WebSocket, the error frame's code on TCP. */
export function expectedClose(
  transport: Transport,
  wsCode: number,
  code: string,
): { code: number | null; reason: string } {
  return { code: transport === "websocket" ? wsCode : null, reason: code };
}

/** How the client saw the connection end, without the time. */
export async function closeOf(client: TestClient): Promise<{ code: number | null; reason: string }> {
  const { code, reason } = await client.closed;
  return { code, reason };
}

/** Connects and authenticates with an `auth` frame; returns the client after `ready`. */
export async function readyClient(
  gateways: Gateways,
  transport: Transport,
  pair?: TokenPair,
): Promise<{ client: TestClient; pair: TokenPair; ready: Frame }> {
  const session = pair ?? (await gateways.session());
  const client = await gateways.connect(transport);
  client.send({ type: "auth", token: session.accessToken });
  const ready = await client.next();
  if (ready.type !== "ready") throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
  return { client, pair: session, ready };
}

/** The next frame of this type, skipping others (pongs of a keep-alive pinger, say). */
export async function nextOfType(client: TestClient, type: string): Promise<Frame> {
  for (;;) {
    const frame = await client.next();
    if (frame.type === type) return frame;
  }
}

/** Keeps a TCP client from being dropped as silent while a test waits on the server. */
export function keepAlive(client: TestClient, everyMs = 10): () => void {
  const timer = setInterval(() => client.send({ type: "ping" }), everyMs);
  void client.closed.then(() => clearInterval(timer));
  return () => clearInterval(timer);
}
