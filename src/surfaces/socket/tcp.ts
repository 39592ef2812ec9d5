/**
 * `startTcpGateway`: the socket protocol over raw TCP (`node:net`), one JSON frame per
 * line (newline-delimited, `\r\n` tolerated), at most `maxFrameBytes` (64 KiB) a line.
 * TCP has no close codes, so a fatal error travels as an `error` frame carrying the code,
 * after which the server ends the connection.
 *
 * TCP has no protocol-level ping: clients send `ping` frames, and a peer silent for two
 * heartbeat intervals is dropped. Each heartbeat also checks the session and renews it
 * near its end, as on WebSocket.
 *
 * ```ts
 * const tcp = await startTcpGateway({ tessera, gates, port: 3001 });
 * ```
 */
import { createServer, type Socket } from "node:net";
import { TesseraError } from "../../errors.js";
import { Connection } from "./connection.js";
import { errorFrame, serialiseFrame } from "./frames.js";
import { ConnectionRegistry } from "./registry.js";
import { resolveSocketOptions, type SocketOptions } from "./socket-options.js";

export interface TcpGatewayOptions extends SocketOptions {
  /** 0 picks a free port. @default 3001 */
  readonly port?: number;
  /** @default all interfaces */
  readonly host?: string;
}

export interface TcpGateway {
  /** The port actually listened on. */
  readonly port: number;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
  connections(): number;
}

const NEWLINE = 0x0a;
/** A peer that does not read its replies is cut off rather than buffered without bound. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

export async function startTcpGateway(options: TcpGatewayOptions): Promise<TcpGateway> {
  const resolved = resolveSocketOptions(options);
  const registry = new ConnectionRegistry(resolved.tessera);
  const live = new Map<Socket, { connection: Connection; lastHeardAt: number }>();

  function endWith(socket: Socket, error: TesseraError): void {
    socket.end(`${serialiseFrame(errorFrame(error))}\n`, () => socket.destroy());
    // A peer that never reads would keep the socket half-open; the grace is one interval.
    setTimeout(() => socket.destroy(), resolved.heartbeatIntervalMs).unref();
  }

  const server = createServer((socket) => {
    if (live.size >= resolved.maxConnections) {
      endWith(socket, new TesseraError("unavailable", "Too many connections; try again later."));
      return;
    }
    socket.setNoDelay(true);
    const connection = new Connection({
      options: resolved,
      registry,
      transport: {
        clientAddress: () => socket.remoteAddress ?? null,
        send: (text) => {
          if (socket.writableLength > MAX_UNREAD_BYTES) socket.destroy();
          else socket.write(`${text}\n`);
        },
        end: (error) => endWith(socket, error),
      },
    });
    const entry = { connection, lastHeardAt: performance.now() };
    live.set(socket, entry);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    socket.on("data", (chunk: Buffer) => {
      entry.lastHeardAt = performance.now();
      let start = 0;
      let newline = chunk.indexOf(NEWLINE, start);
      while (newline !== -1 && !connection.isClosed) {
        const part = chunk.subarray(start, newline);
        const line = pendingBytes === 0 ? part : Buffer.concat([...pending, part]);
        pending = [];
        pendingBytes = 0;
        if (line.length > resolved.maxFrameBytes) return tooLong(connection);
        const text = line.toString("utf8").replace(/\r$/, "");
        if (text.trim().length > 0) connection.receive(text);
        start = newline + 1;
        newline = chunk.indexOf(NEWLINE, start);
      }
      if (connection.isClosed || start >= chunk.length) return;
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > resolved.maxFrameBytes) tooLong(connection);
    });
    socket.on("error", () => connection.dispose());
    socket.on("close", () => {
      connection.dispose();
      live.delete(socket);
    });
  });

  const heartbeat = setInterval(() => {
    const silentSince = performance.now() - resolved.peerTimeoutMs;
    for (const [socket, entry] of live) {
      if (entry.lastHeardAt < silentSince) {
        entry.connection.dispose();
        socket.destroy();
      } else entry.connection.heartbeat();
    }
  }, resolved.heartbeatIntervalMs);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 3001, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;

  return {
    port,
    connections: () => live.size,
    async close() {
      clearInterval(heartbeat);
      registry.close();
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [socket, entry] of live) {
        entry.connection.dispose();
        socket.destroy();
      }
      await closing;
    },
  };
}

function tooLong(connection: Connection): void {
  connection.end(new TesseraError("payload_too_large", "A frame is longer than the line limit."));
}
