/**
 * `createClient`: one object per app and server, in one of two modes chosen up front.
 *
 * - **cookie** — a browser app on the server's own site. Sign-in goes through
 *   `POST /account/sign-in`, whose answer sets the HttpOnly `tessera_session` cookie and
 *   carries no token: the SDK never holds one, so no script on the page can steal one.
 * - **token** — another origin, a mobile shell, Node. The pair lives in a `TokenStorage`
 *   (memory unless told otherwise) and goes out as `Authorization: Bearer`.
 *
 * `client.fetch` attaches the credential (only to the server's origin and the page's own,
 * or `credentialOrigins`), refreshes once and retries once on `token_expired`, and ends
 * the session locally on `token_revoked` / `refresh_token_reused`. Refreshes are
 * single-flight in a tab (one promise) and across tabs (`coordination.ts`).
 *
 * Sign-out wins: every sign-out bumps an epoch; a refresh or request that started in an
 * earlier epoch may not store what it brings back, and rejects instead of handing the
 * caller a signed-out user's data (the race of next-auth PR #13465).
 */
import {
  browserCoordination,
  type ChannelLike,
  type LockManagerLike,
  TabCoordinator,
  type TabMessage,
} from "./coordination.js";
import { TesseraError } from "./errors.js";
import { absoluteUrl, codeOf401, type FetchLike, jsonRequest, read, send } from "./http.js";
import { ClientRoutes } from "./routes.js";
import { type SocketOptions, TesseraSocket } from "./socket.js";
import { memoryStorage, type TokenStorage } from "./storage.js";
import type { ClientEvents, SignedIn, SignOutReason, TokenPair } from "./types.js";

export type ClientMode = "cookie" | "token";

export interface ClientOptions {
  /** The Tessera server, e.g. `https://auth.example.com`. */
  readonly baseUrl: string;
  readonly mode: ClientMode;
  /** Token mode: where the pair is kept. @default memoryStorage() */
  readonly storage?: TokenStorage;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Origins `client.fetch` may send the credential to. @default the server's and the page's */
  readonly credentialOrigins?: readonly string[];
  /** Web Lock and BroadcastChannel name shared by the tabs. @default "tessera:" + server origin */
  readonly tabName?: string;
  /** How long to wait for the refresh lock before refreshing unlocked. @default 10000 */
  readonly lockTimeoutMs?: number;
  /** Cross-tab coordination; pass your own in tests or in workers. @default Web Locks + BroadcastChannel in a page, none in Node */
  readonly coordination?: { readonly locks: LockManagerLike | null; readonly channel: ChannelLike | null };
}

type Listener<E extends keyof ClientEvents> = (event: ClientEvents[E]) => void;

/** Codes after which the session is gone for good. */
const ENDING: ReadonlySet<string> = new Set(["token_revoked", "refresh_token_reused"]);

export class TesseraClient extends ClientRoutes {
  readonly mode: ClientMode;
  readonly baseUrl: string;
  readonly #fetch: FetchLike;
  readonly #storage: TokenStorage;
  readonly #tabs: TabCoordinator;
  readonly #origins: ReadonlySet<string>;
  readonly #listeners = new Map<keyof ClientEvents, Set<(event: never) => void>>();
  /** Sessions this client saw end: a late `tokens` message for one of them is ignored. */
  readonly #ended = new Set<string>();
  /**
   * The session this tab last held. With a shared storage (`localStorage`) the tab that
   * signs out empties it before the others hear of it, so they recognise the sign-out by
   * this, not by what the storage holds by then.
   */
  #seen: string | null = null;
  #epoch = 0;
  #refreshing: Promise<TokenPair> | null = null;

  constructor(options: ClientOptions) {
    super();
    if (options.mode !== "cookie" && options.mode !== "token") {
      throw new TypeError('mode must be "cookie" or "token"');
    }
    this.mode = options.mode;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.#fetch = (request) => fetchImpl(request);
    this.#storage = options.storage ?? memoryStorage();
    const origin = new URL(this.baseUrl).origin;
    const page = (globalThis as { location?: { origin?: string } }).location?.origin;
    this.#origins = new Set(options.credentialOrigins ?? [origin, ...(page === undefined ? [] : [page])]);
    const name = options.tabName ?? `tessera:${origin}`;
    const environment = options.coordination ?? browserCoordination(name);
    this.#tabs = new TabCoordinator({
      name,
      ...environment,
      timeoutMs: options.lockTimeoutMs ?? 10_000,
      onMessage: (message) => void this.#fromTab(message),
    });
    // A pair another tab stored (shared storage): this tab holds that session too.
    if (this.mode === "token") this.#pair().catch(() => undefined);
  }

  /** Subscribes to `signedOut` or `tokens`; returns the unsubscribe function. */
  on<E extends keyof ClientEvents>(name: E, listener: Listener<E>): () => void {
    const set = this.#listeners.get(name) ?? new Set();
    this.#listeners.set(name, set);
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** Token mode: the pair in use, or null. Cookie mode: always null (the SDK holds no token). */
  async tokens(): Promise<TokenPair | null> {
    return this.mode === "token" ? this.#pair() : null;
  }

  /**
   * `fetch` with the credential attached. One refresh and one retry on `token_expired`;
   * `token_revoked` and `refresh_token_reused` end the session (event `signedOut`). The
   * response is returned as it is, errors included, like `fetch`.
   */
  async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request =
      input instanceof Request
        ? new Request(input, init)
        : new Request(absoluteUrl(input, this.baseUrl), init);
    return this.#authorized(request, this.#origins.has(new URL(request.url).origin));
  }

  /** Token mode: refreshes now (single-flight, cross-tab) and returns the new pair. */
  async refresh(): Promise<TokenPair> {
    const current = await this.#pair();
    if (this.mode !== "token" || current === null) throw signedOutError("There is no token pair to refresh.");
    return this.#refreshAfter(current);
  }

  /** Opens a socket client on `/ws` (see `socket.ts`). */
  socket(options: SocketOptions): TesseraSocket {
    return new TesseraSocket(this.baseUrl, options, {
      mode: this.mode,
      pair: () => (this.mode === "token" ? this.#pair() : null),
      epoch: () => this.#epoch,
      refreshAfter: (stale) => this.#refreshAfter(stale),
      withLock: (work) => this.#tabs.withLock(work),
      adopt: (pair, replaces) => this.#adopt(pair, replaces),
      end: (reason) => this.#end(reason, this.#epoch),
      onSignedOut: (listener) => this.on("signedOut", listener),
    });
  }

  /** Forgets the session locally and ends it on the server (`POST /auth/logout`). */
  async logout(): Promise<void> {
    const pair = this.mode === "token" ? await this.#pair() : null;
    await this.#end("logout", this.#epoch);
    if (this.mode === "token" && pair === null) return;
    await this.#rawCall("POST", "/auth/logout", undefined, pair);
  }

  /** Ends every session of the user (`POST /auth/logout-all`), this one included. */
  async logoutAll(): Promise<void> {
    await this.call("POST", "/auth/logout-all");
    await this.#end("logout", this.#epoch);
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.#tabs.close();
  }

  // --- for ClientRoutes -------------------------------------------------------------

  /** An authenticated JSON call through the same refresh-and-retry path as `fetch`. */
  protected override async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const request = jsonRequest(this.baseUrl + path, method, body);
    return read<T>(await this.#authorized(request, true));
  }

  /** A call without credentials (register, login, refresh, link redemption). */
  protected override async anonymous<T>(method: string, path: string, body?: unknown): Promise<T> {
    const request = jsonRequest(path.startsWith("http") ? path : this.baseUrl + path, method, body);
    return read<T>(await send(this.#fetch, this.#withCredential(request, null, this.mode === "cookie")));
  }

  protected override async signedIn(pair: TokenPair | null, signedIn: SignedIn): Promise<SignedIn> {
    if (pair !== null) await this.#adopt(pair, null);
    return signedIn;
  }

  protected override async currentPair(): Promise<TokenPair | null> {
    return this.mode === "token" ? this.#pair() : null;
  }

  // --- the session's state ----------------------------------------------------------

  async #rawCall(method: string, path: string, body: unknown, pair: TokenPair | null): Promise<void> {
    const request = jsonRequest(this.baseUrl + path, method, body);
    const response = await send(this.#fetch, this.#withCredential(request, pair, true));
    // 401 here means the session had already ended: the goal is reached.
    if (response.status !== 401) await read<void>(response);
  }

  #withCredential(request: Request, pair: TokenPair | null, attach: boolean): Request {
    if (!attach) return request;
    if (this.mode === "cookie") return new Request(request, { credentials: "include" });
    if (pair === null) return request;
    const headers = new Headers(request.headers);
    headers.set("authorization", `Bearer ${pair.accessToken}`);
    return new Request(request, { headers });
  }

  async #authorized(request: Request, attach: boolean): Promise<Response> {
    const epoch = this.#epoch;
    let pair = attach && this.mode === "token" ? await this.#pair() : null;
    let response = await send(this.#fetch, this.#withCredential(request.clone(), pair, attach));
    let code = attach ? await codeOf401(response) : null;
    if (code === "token_expired" && pair !== null) {
      pair = await this.#refreshAfter(pair);
      response = await send(this.#fetch, this.#withCredential(request, pair, attach));
      code = await codeOf401(response);
    }
    if (code !== null && (ENDING.has(code) || (code === "token_expired" && this.mode === "cookie"))) {
      await this.#end(code as SignOutReason, epoch);
      return response; // an error answer: nothing of a signed-out user's to hold back
    }
    if (epoch !== this.#epoch) throw signedOutError("Signed out while the request was in flight.");
    return response;
  }

  #refreshAfter(stale: TokenPair): Promise<TokenPair> {
    this.#refreshing ??= this.#refreshLocked(stale).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refreshLocked(stale: TokenPair): Promise<TokenPair> {
    const epoch = this.#epoch;
    return this.#tabs.withLock(async () => {
      if (epoch !== this.#epoch) throw signedOutError("Signed out before the refresh ran.");
      const current = await this.#pair();
      if (current === null) throw signedOutError("Signed out before the refresh ran.");
      // Another request of this tab, or another tab, refreshed while we waited: use its pair.
      if (current.accessToken !== stale.accessToken) return current;
      let next: TokenPair;
      try {
        next = await this.anonymous<TokenPair>("POST", "/auth/refresh", {
          refreshToken: current.refreshToken,
        });
      } catch (error) {
        if (error instanceof TesseraError && error.status === 401)
          await this.#end(endReason(error.code), epoch);
        throw error;
      }
      if (epoch !== this.#epoch) throw signedOutError("Signed out while the refresh was in flight.");
      await this.#adopt(next, current.accessToken);
      return next;
    });
  }

  /** The stored pair, remembering whose session it is. */
  async #pair(): Promise<TokenPair | null> {
    const pair = await this.#storage.get();
    if (pair !== null) this.#seen = pair.sessionId;
    return pair;
  }

  async #adopt(pair: TokenPair, replaces: string | null, fromTab = false): Promise<void> {
    if (this.#ended.has(pair.sessionId)) return;
    this.#seen = pair.sessionId;
    await this.#storage.set(pair);
    if (!fromTab) this.#tabs.post({ type: "tokens", pair, replaces });
    this.#emit("tokens", { pair });
  }

  async #end(reason: SignOutReason, epoch: number): Promise<void> {
    // Already ended in a later epoch: one sign-out per session, one event.
    if (epoch !== this.#epoch) return;
    this.#epoch += 1;
    const pair = this.mode === "token" ? await this.#pair() : null;
    const sessionId = pair?.sessionId ?? this.#seen;
    this.#seen = null;
    if (sessionId !== null) this.#ended.add(sessionId);
    await this.#storage.set(null);
    if (reason !== "other_tab") this.#tabs.post({ type: "signed_out", sessionId });
    this.#emit("signedOut", { reason });
  }

  async #fromTab(message: TabMessage): Promise<void> {
    const current = this.mode === "token" ? await this.#pair() : null;
    if (message.type === "signed_out") {
      const known = current?.sessionId ?? this.#seen;
      if (this.mode === "cookie" || (known !== null && known === message.sessionId)) {
        await this.#end("other_tab", this.#epoch);
      }
      return;
    }
    if (this.mode !== "token") return;
    // Only a pair that follows ours (or a new login) is taken: a late message must never
    // put back a pair whose refresh token this tab has already spent.
    const follows = message.replaces === null || current === null || current.accessToken === message.replaces;
    if (follows && current?.accessToken !== message.pair.accessToken)
      await this.#adopt(message.pair, message.replaces, true);
  }

  #emit<E extends keyof ClientEvents>(name: E, event: ClientEvents[E]): void {
    for (const listener of this.#listeners.get(name) ?? []) (listener as Listener<E>)(event);
  }
}

function signedOutError(message: string): TesseraError {
  return new TesseraError("token_revoked", message, { status: 401 });
}

function endReason(code: TesseraError["code"]): SignOutReason {
  return code === "refresh_token_reused" || code === "token_expired" || code === "token_invalid"
    ? code
    : "token_revoked";
}

export function createClient(options: ClientOptions): TesseraClient {
  return new TesseraClient(options);
}
