/**
 * `attachWebSocketGateway`: the socket protocol over WebSocket (`ws`, one frame per text
 * message) on an existing HTTP server, at `path` (default `/ws`). It answers only the
 * `upgrade` events for its path and leaves every other upgrade to whoever else listens.
 *
 * Thin by design: the protocol lives in `Connection`; this file moves text, maps the
 * ending error to a close code (`close-codes.ts`), takes a Bearer session token — or, for a
 * page of this server, the `tessera_session` cookie — from the upgrade request, and runs
 * the heartbeat — a WebSocket ping each interval; a peer whose socket has read nothing
 * (no pong, no frame) for `peerTimeoutMs` worth of heartbeats is terminated — which also
 * drives session renewal.
 *
 * ```ts
 * const server = http.createServer(handler);
 * const gateway = attachWebSocketGateway({ server, tessera, gates });
 * server.listen(3000);
 * ```
 */
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { TesseraError } from "../../errors.js";
import { readCookie, SESSION_COOKIE } from "../http/cookies.js";
import { GOING_AWAY, WEBSOCKET_CLOSE_CODE } from "./close-codes.js";
import { Connection, type ConnectionTransport } from "./connection.js";
import { ConnectionRegistry } from "./registry.js";
import { resolveSocketOptions, type SocketOptions } from "./socket-options.js";

export interface WebSocketGatewayOptions extends SocketOptions {
  readonly server: Server;
  /** @default "/ws" */
  readonly path?: string;
  /**
   * Origins besides the server's own whose pages may authenticate with the session cookie
   * (the CSRF-trusted `--link-origins`). @default []
   */
  readonly cookieOrigins?: readonly string[];
}

export interface WebSocketGateway {
  /** Closes every socket (1001) and detaches from the HTTP server; the server itself stays up. */
  close(): Promise<void>;
  /** Open WebSockets, authenticated or not. */
  connections(): number;
}

/** How long `close()` waits for peers to acknowledge the close before cutting them off. */
const CLOSE_GRACE_MS = 1000;

export function attachWebSocketGateway(options: WebSocketGatewayOptions): WebSocketGateway {
  const resolved = resolveSocketOptions(options);
  const path = options.path ?? "/ws";
  const cookieOrigins = new Set(options.cookieOrigins ?? []);
  const registry = new ConnectionRegistry(resolved.tessera);
  // Compression is off: it costs memory per socket and invites compression-ratio attacks.
  // `live` tracks the sockets (`ws`'s own client set would be a second copy, with a
  // `close` listener per socket).
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: resolved.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const maxSilentBeats = Math.ceil(resolved.peerTimeoutMs / resolved.heartbeatIntervalMs);
  const live = new Map<WebSocket, Peer>();

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (pathOf(request) !== path) return;
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request));
  }

  // One set of listeners for every socket (`this` is the socket): an idle socket holds its
  // `Peer` and its `Connection`, not three closures and their context. No `pong` listener:
  // the heartbeat tells a live peer by the bytes its socket has read (a pong, a frame).
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const peer = live.get(this);
    if (peer === undefined) return;
    if (isBinary) peer.connection.end(new TesseraError("invalid_request", "Frames are text messages."));
    else peer.connection.receive(rawText(data));
  }
  // `ws` has already closed with 1009 (oversized) or 1002 (protocol) when it reports an error.
  function onError(this: WebSocket): void {
    live.get(this)?.connection.dispose();
  }
  function onClose(this: WebSocket): void {
    live.get(this)?.connection.dispose();
    live.delete(this);
  }

  function onConnection(ws: WebSocket, request: IncomingMessage): void {
    if (live.size >= resolved.maxConnections) {
      ws.close(WEBSOCKET_CLOSE_CODE.unavailable, "unavailable");
      return;
    }
    const peer = new Peer(ws, request.socket);
    peer.connection = new Connection({
      options: resolved,
      registry,
      userAgent: request.headers["user-agent"] ?? null,
      transport: peer,
    });
    live.set(ws, peer);
    ws.on("message", onMessage).on("error", onError).on("close", onClose);
    const token = bearerToken(request) ?? cookieToken(request, cookieOrigins);
    if (token !== null) peer.connection.authenticateWithToken(token);
  }

  const heartbeat = setInterval(() => {
    for (const [ws, peer] of live) {
      if (peer.silentBeats() >= maxSilentBeats) {
        peer.connection.dispose();
        ws.terminate();
        continue;
      }
      ws.ping();
      peer.connection.heartbeat();
    }
  }, resolved.heartbeatIntervalMs);
  heartbeat.unref();

  options.server.on("upgrade", onUpgrade);

  return {
    connections: () => live.size,
    async close() {
      clearInterval(heartbeat);
      options.server.off("upgrade", onUpgrade);
      registry.close();
      const closed = [...live.keys()].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once("close", () => resolve());
            live.get(ws)?.connection.dispose();
            ws.close(GOING_AWAY, "server_shutdown");
            setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
          }),
      );
      await Promise.all(closed);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** What the gateway keeps per socket: the socket, its protocol state, whether it is heard. */
class Peer implements ConnectionTransport {
  // Set right after construction (the connection needs its transport first).
  connection!: Connection;
  #bytesRead = 0;
  #silentBeats = 0;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
  ) {}

  /**
   * Called once per heartbeat: how many heartbeats in a row the peer has sent nothing
   * (no frame, no pong to the last ping). It was silent at least that many intervals.
   */
  silentBeats(): number {
    const read = this.socket.bytesRead;
    if (read !== this.#bytesRead) {
      this.#bytesRead = read;
      this.#silentBeats = 0;
    } else this.#silentBeats += 1;
    return this.#silentBeats;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  clientAddress(): string | null {
    return this.socket.remoteAddress ?? null;
  }

  end(error: TesseraError): void {
    this.ws.close(WEBSOCKET_CLOSE_CODE[error.code], error.code);
  }
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function bearerToken(request: IncomingMessage): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * The session cookie of an upgrade that a page of this server (or a trusted origin) made.
 * Browsers send cookies on cross-site WebSocket upgrades and no CORS guards them
 * (cross-site WebSocket hijacking), so an `Origin` naming another host makes the cookie
 * count for nothing; that page may still send an `auth` frame with a token it holds.
 */
function cookieToken(request: IncomingMessage, trusted: ReadonlySet<string>): string | null {
  const token = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (token === undefined || token === "") return null;
  const origin = request.headers.origin;
  if (origin === undefined || trusted.has(origin)) return token;
  try {
    return new URL(origin).host === request.headers.host ? token : null;
  } catch {
    return null;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
