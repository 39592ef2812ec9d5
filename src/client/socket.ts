/**
 * The socket client (contract "Socket protocol"), over any WebSocket constructor: the
 * browser's, or `ws` in Node. Every connection attempt reads the credential afresh:
 *
 * - cookie mode: no frame; the browser's upgrade request carries the session cookie;
 * - token mode with a live session token: an `auth` frame with it;
 * - otherwise (an access JWT, or a token past its expiry): the refresh token is spent in
 *   an `auth` frame under the same cross-tab lock as an HTTP refresh, and the `tokens`
 *   frame that answers it is stored before the lock is let go.
 *
 * Pushed `tokens` frames replace the pair. Gates are promises (`call`), each with an id
 * and a timeout. A lost connection reconnects with exponential backoff and full jitter
 * (delay uniformly random in [0, min(max, base·2ⁿ)], so a restarted server is not hit by
 * every client at once); 4401 `token_expired` refreshes (locked) and reconnects at once;
 * `token_revoked` and `token_invalid` stop and sign the client out.
 */
import { TesseraError } from "./errors.js";
import type { JsonValue, SignOutReason, TokenPair } from "./types.js";

/** The WebSocket surface used here; the browser's and `ws`'s both have it. */
interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
}

export interface SocketOptions {
  /** `WebSocket` in a browser, `(await import("ws")).default` in Node. */
  readonly WebSocket: new (
    url: string,
  ) => unknown;
  /** @default the server's `/ws`, http(s) → ws(s) */
  readonly url?: string;
  /** A gate call's timeout. @default 10000 */
  readonly timeoutMs?: number;
  /** First reconnect delay cap. @default 500 */
  readonly backoffBaseMs?: number;
  /** Largest reconnect delay cap. @default 30000 */
  readonly backoffMaxMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

/** What the socket needs from its client. */
export interface SocketHost {
  readonly mode: "cookie" | "token";
  pair(): TokenPair | null | Promise<TokenPair | null>;
  epoch(): number;
  refreshAfter(stale: TokenPair): Promise<TokenPair>;
  withLock<T>(work: () => Promise<T>): Promise<T>;
  adopt(pair: TokenPair, replaces: string | null): Promise<void>;
  end(reason: SignOutReason): Promise<void>;
  onSignedOut(listener: () => void): () => void;
}

export interface SocketEvents {
  ready: { readonly sessionId: string; readonly userId: number; readonly expiresAt: string };
  /** The connection closed; `retryInMs` is null when the socket stopped for good. */
  close: { readonly code: number; readonly reason: string; readonly retryInMs: number | null };
}

type Frame = { readonly type: string } & Record<string, unknown>;

interface Pending {
  resolve(data: JsonValue): void;
  reject(error: TesseraError): void;
  timer: ReturnType<typeof setTimeout>;
}

export class TesseraSocket {
  readonly #url: string;
  readonly #options: SocketOptions;
  readonly #host: SocketHost;
  readonly #pending = new Map<string, Pending>();
  readonly #listeners: { [E in keyof SocketEvents]: Set<(event: SocketEvents[E]) => void> } = {
    ready: new Set(),
    close: new Set(),
  };
  readonly #stopSignOut: () => void;
  #ws: WebSocketLike | null = null;
  #ready = false;
  #waiters: (() => void)[] = [];
  #attempt = 0;
  #nextId = 0;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | null = null;
  /** The pair this connection authenticated with, to refresh after `token_expired`. */
  #used: TokenPair | null = null;

  constructor(baseUrl: string, options: SocketOptions, host: SocketHost) {
    this.#url = options.url ?? `${baseUrl.replace(/^http/, "ws")}/ws`;
    this.#options = options;
    this.#host = host;
    this.#stopSignOut = host.onSignedOut(() => this.close());
    void this.#connect();
  }

  on<E extends keyof SocketEvents>(name: E, listener: (event: SocketEvents[E]) => void): () => void {
    this.#listeners[name].add(listener);
    return () => this.#listeners[name].delete(listener);
  }

  /** Resolves when the socket is authenticated (at once if it is). */
  opened(): Promise<void> {
    if (this.#stopped) return Promise.reject(closedError("The socket is closed."));
    return this.#ready ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Sends `data` to `gate` and resolves with the handler's reply (rejects on an `error` frame or timeout). */
  async call(gate: string, data: JsonValue = null, options: { timeoutMs?: number } = {}): Promise<JsonValue> {
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 10_000;
    const id = String(++this.#nextId);
    return new Promise<JsonValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TesseraError("unavailable", `No reply from gate "${gate}" in ${timeoutMs} ms.`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.opened().then(
        () => this.#ws?.send(JSON.stringify({ type: "message", gate, id, data })),
        (error: TesseraError) => this.#settle(id, error),
      );
    });
  }

  /** Closes for good; pending calls reject. */
  close(): void {
    if (this.#stopped) return;
    if (this.#retry !== null) clearTimeout(this.#retry);
    const ws = this.#ws;
    this.#ws = null;
    ws?.close(1000, "client_closed");
    this.#stop(1000, "client_closed");
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const epoch = this.#host.epoch();
    const pair = await this.#host.pair();
    if (this.#host.mode === "token" && pair === null) return this.#stop(1000, "signed_out");
    this.#used = pair;
    if (pair === null || (pair.tokenType === "session" && Date.parse(pair.accessExpiration) > Date.now())) {
      this.#open(pair === null ? null : { type: "auth", token: pair.accessToken });
      return;
    }
    // A returning client: spend the refresh token, holding the lock until its successor is stored.
    await this.#host.withLock(async () => {
      const current = await this.#host.pair();
      if (current === null || epoch !== this.#host.epoch()) return this.#stop(1000, "signed_out");
      this.#used = current;
      await new Promise<void>((resolve) => {
        this.#open({ type: "auth", refreshToken: current.refreshToken }, resolve);
      });
    });
  }

  #open(auth: Frame | null, onAuthSettled?: () => void): void {
    const ws = new this.#options.WebSocket(this.#url) as WebSocketLike;
    this.#ws = ws;
    let settled = false;
    const settle = () => {
      if (!settled) onAuthSettled?.();
      settled = true;
    };
    ws.onopen = () => {
      if (auth !== null) ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (event) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(event.data)) as Frame;
      } catch {
        return;
      }
      void this.#receive(frame, settle);
    };
    ws.onerror = () => undefined;
    ws.onclose = (event) => {
      settle();
      if (this.#ws === ws) void this.#closed(event.code, event.reason);
    };
  }

  async #receive(frame: Frame, settle: () => void): Promise<void> {
    switch (frame.type) {
      case "tokens": {
        const { type: _type, ...pair } = frame;
        const next = pair as unknown as TokenPair;
        await this.#host.adopt(next, this.#used?.accessToken ?? null);
        this.#used = next;
        settle();
        return;
      }
      case "ready":
        settle();
        this.#ready = true;
        this.#attempt = 0;
        for (const waiter of this.#waiters.splice(0)) waiter();
        this.#emit("ready", frame as unknown as SocketEvents["ready"]);
        return;
      case "reply":
        this.#settle(String(frame.id), null, frame.data as JsonValue);
        return;
      case "error":
        if (frame.id !== undefined) {
          this.#settle(
            String(frame.id),
            new TesseraError(frame.code as TesseraError["code"], String(frame.message)),
          );
        }
        return;
      default:
        return;
    }
  }

  async #closed(code: number, reason: string): Promise<void> {
    this.#ready = false;
    this.#ws = null;
    this.#failPending(closedError(`The socket closed (${code} ${reason}).`));
    if (this.#stopped) return;
    if (code === 4401 && (reason === "token_revoked" || reason === "token_invalid")) {
      // Signed out first, so that whoever hears `close` finds the client signed out.
      this.#stopSignOut();
      await this.#host.end(reason);
      this.#stop(code, reason);
      return;
    }
    if (code === 4401 && reason === "token_expired" && this.#used !== null) {
      try {
        await this.#host.refreshAfter(this.#used);
      } catch {
        // Signed out (the refresh ended the session) or the server is away: back off below.
      }
    }
    const cap = Math.min(
      this.#options.backoffMaxMs ?? 30_000,
      (this.#options.backoffBaseMs ?? 500) * 2 ** this.#attempt,
    );
    const delay = reason === "token_expired" ? 0 : Math.floor((this.#options.random ?? Math.random)() * cap);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    this.#emit("close", { code, reason, retryInMs: delay });
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect();
    }, delay);
  }

  #stop(code: number, reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopSignOut();
    this.#failPending(closedError("The socket stopped."));
    this.#emit("close", { code, reason, retryInMs: null });
  }

  #settle(id: string, error: TesseraError | null, data: JsonValue = null): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error === null) pending.resolve(data);
    else pending.reject(error);
  }

  #failPending(error: TesseraError): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, error);
  }

  #emit<E extends keyof SocketEvents>(name: E, event: SocketEvents[E]): void {
    for (const listener of this.#listeners[name]) listener(event);
  }
}

function closedError(message: string): TesseraError {
  return new TesseraError("unavailable", message);
}
