/**
 * `Connection`: one socket's protocol state machine, shared by the WebSocket and TCP
 * gateways, which only move text in and out (`ConnectionTransport`) and run the timers.
 *
 * waiting → (auth frame or Bearer header) → authenticating → ready → closed. Frames that
 * arrive while authentication is in flight wait in a short queue, so a client may send
 * `auth` and its first `message` back to back. A failed authentication closes the socket
 * (the contract's 4401 + code) once `maxAuthAttempts` are used up.
 *
 * Once ready, the session and user live here: a `message` checks the expiry time and the
 * revocation flag in memory and calls the gate — no store round trip, no signature check
 * (seed 000: that is why sessions are upgraded). Revocation reaches the connection through
 * the `ConnectionRegistry`; expiry through the in-memory time, checked per message and at
 * every heartbeat, which also renews a session near its end (seed 003) — up to the
 * session's absolute cap: a session that cannot be extended any more gets one `expiring`
 * frame instead of `tokens`, and is closed with `token_expired` when its time is up.
 */
import { randomUUID } from "node:crypto";
import type {
  PublicUser,
  RequestMetadata,
  Session,
  TokenPair,
  ValidatedSession,
} from "../../engine/types.js";
import { isTesseraError, TesseraError, toTesseraError } from "../../errors.js";
import { FrameBucket } from "./frame-bucket.js";
import {
  type ClientFrame,
  errorFrame,
  parseClientFrame,
  type ServerFrame,
  serialiseFrame,
} from "./frames.js";
import type { GateHandler } from "./gates.js";
import type { ConnectionRegistry, RegisteredConnection } from "./registry.js";
import type { ResolvedSocketOptions } from "./socket-options.js";

/** What a gateway provides: write one frame, and end the connection because of an error. */
export interface ConnectionTransport {
  send(text: string): void;
  /**
   * The peer's address; the engine throttles an address that keeps presenting invalid
   * tokens. Asked once, when first needed (while a frame is handled, so the socket is
   * open): a socket authenticated by a cached session never needs it, and Node keeps a
   * copy of the address on every socket that was asked.
   */
  clientAddress(): string | null;
  /** WebSocket: close with the code's close code and the code as reason; TCP: error frame, then end. */
  end(error: TesseraError): void;
}

export interface ConnectionInit {
  readonly options: ResolvedSocketOptions;
  readonly registry: ConnectionRegistry;
  readonly transport: ConnectionTransport;
  /** The peer's user agent (WebSocket), recorded on a session it logs in. */
  readonly userAgent?: string | null;
}

/** Frames held while authentication is in flight; a client that sends more is not waiting for `ready`. */
const MAX_QUEUED_FRAMES = 16;

/** `checking`: ready, but holding frames while the store confirms the session is not idle. */
type Phase = "waiting" | "authenticating" | "ready" | "checking" | "closed";
type AuthFrame = Extract<ClientFrame, { type: "auth" }>;

export class Connection implements RegisteredConnection {
  /** Made on first use (a gate call, a log line): most sockets never need one. */
  #id: string | null = null;
  readonly #options: ResolvedSocketOptions;
  readonly #registry: ConnectionRegistry;
  readonly #transport: ConnectionTransport;
  /** The peer's address and user agent (the engine's request metadata is made from them when needed). */
  /** Undefined until first needed (`ConnectionTransport.clientAddress`). */
  #clientAddress: string | null | undefined = undefined;
  readonly #userAgent: string | null;
  readonly #bucket: FrameBucket;
  /** Until authenticated; then dropped, so that an idle socket holds no timer. */
  #authTimer: NodeJS.Timeout | null;
  #phase: Phase = "waiting";
  /** Made when a frame has to wait: an idle socket holds none. */
  #queue: ClientFrame[] | null = null;
  #authAttempts = 0;
  #session: Session | null = null;
  #user: PublicUser | null = null;
  #expiresAtMs = 0;
  /** Whether the `expiring` frame has been sent (it is sent once). */
  #toldExpiring = false;
  #renewing = false;
  /** This socket's last client frame (a use, for the idle rule), and its last recorded use. */
  #lastUseAt = 0;
  #lastTouchAt = 0;

  constructor(init: ConnectionInit) {
    this.#options = init.options;
    this.#registry = init.registry;
    this.#userAgent = init.userAgent ?? null;
    this.#transport = init.transport;
    this.#bucket = new FrameBucket(init.options.frameRate);
    this.#authTimer = setTimeout(() => {
      this.end(new TesseraError("auth_timeout", "Authenticate within the time allowed after connecting."));
    }, init.options.authTimeoutMs);
    this.#authTimer.unref();
  }

  /** This connection's id, as gates see it (`connectionId`). */
  get id(): string {
    if (this.#id === null) this.#id = randomUUID();
    return this.#id;
  }

  get isReady(): boolean {
    return this.#phase === "ready" || this.#phase === "checking";
  }

  get isClosed(): boolean {
    return this.#phase === "closed";
  }

  /** The third way in, WebSocket only: a session token from the upgrade request's Bearer header. */
  authenticateWithToken(token: string): void {
    void this.#authenticate({ type: "auth", token });
  }

  /** One frame's text from the peer. */
  receive(text: string): void {
    if (this.#phase === "closed") return;
    const verdict = this.#bucket.take();
    if (verdict !== "accept") {
      const error = new TesseraError("rate_limited", "Too many frames; slow down.", { retryAfterSeconds: 1 });
      if (verdict === "abuse") this.end(error);
      else this.#send(errorFrame(error));
      return;
    }
    let frame: ClientFrame;
    try {
      frame = parseClientFrame(text);
    } catch (error) {
      this.end(toTesseraError(error));
      return;
    }
    if (this.#phase === "authenticating" || this.#phase === "checking") {
      if ((this.#queue?.length ?? 0) >= MAX_QUEUED_FRAMES) {
        this.end(new TesseraError("rate_limited", "Too many frames before authentication completed."));
      } else this.#hold(frame);
      return;
    }
    if (this.#phase === "ready" && !this.#used()) {
      this.#hold(frame);
      return;
    }
    this.#dispatch(frame);
  }

  /** Called by the gateway every heartbeat: ends an expired session, renews one near its end. */
  heartbeat(): void {
    if (this.#phase !== "ready" || this.#renewing) return;
    const now = this.#options.clock();
    if (now >= this.#expiresAtMs) {
      this.end(new TesseraError("token_expired", "The session has expired."));
    } else if (now >= this.#idleDeadline()) {
      void this.#checkIdle(false);
    } else if (this.#expiresAtMs - now <= this.#options.renewBeforeExpiryMs) {
      if (this.#atCap()) this.#tellExpiring();
      else void this.#renew();
    }
  }

  /** The server ends the connection (revocation, a fatal frame, shutdown). Idempotent. */
  end(error: TesseraError): void {
    if (!this.#markClosed()) return;
    this.#transport.end(error);
  }

  /** The transport closed underneath us (the peer left); nothing more is sent. */
  dispose(): void {
    this.#markClosed();
  }

  /** A fresher view of this connection's session (its data changed). */
  updateSession(session: Session): void {
    if (this.#phase !== "ready" || this.#session?.id !== session.id) return;
    this.#session = session;
    this.#expiresAtMs = Date.parse(session.expiresAt);
  }

  /** The engine's request metadata for a call made on this socket's behalf. */
  #metadata(): RequestMetadata {
    if (this.#clientAddress === undefined) this.#clientAddress = this.#transport.clientAddress();
    return { ipAddress: this.#clientAddress, userAgent: this.#userAgent, surface: "socket" };
  }

  #hold(frame: ClientFrame): void {
    if (this.#queue === null) this.#queue = [frame];
    else this.#queue.push(frame);
  }

  #markClosed(): boolean {
    if (this.#phase === "closed") return false;
    this.#phase = "closed";
    this.#stopAuthTimer();
    this.#queue = null;
    if (this.#session !== null) this.#registry.remove(this.#session.id, this);
    return true;
  }

  #dispatch(frame: ClientFrame): void {
    switch (frame.type) {
      case "ping":
        this.#send({ type: "pong" });
        return;
      case "auth":
        if (this.#phase === "ready" || this.#phase === "checking") {
          this.#send(
            errorFrame(new TesseraError("invalid_request", "This socket is already authenticated.")),
          );
        } else void this.#authenticate(frame);
        return;
      case "refresh":
        if (this.#phase === "ready") void this.#refresh(frame.refreshToken);
        else this.#send(errorFrame(notYet()));
        return;
      case "message":
        if (this.#phase === "ready") this.#message(frame);
        else this.#send(errorFrame(notYet(), frame.id));
        return;
      default:
        frame satisfies never;
    }
  }

  async #authenticate(frame: AuthFrame): Promise<void> {
    this.#phase = "authenticating";
    this.#authAttempts += 1;
    const { metrics } = this.#options;
    const isLogin = !("token" in frame) && !("refreshToken" in frame);
    try {
      const validated =
        "token" in frame
          ? await this.#validate(frame.token)
          : "refreshToken" in frame
            ? await this.#redeem(frame.refreshToken)
            : await this.#login(frame.provider, frame.fields);
      if (!isLogin) metrics?.validated("ok");
      if (this.isClosed) return;
      this.#becomeReady(validated);
    } catch (caught) {
      const code = isTesseraError(caught) ? caught.code : "internal_error";
      if (isLogin) metrics?.loginFailed(code);
      else metrics?.validated(code);
      if (this.isClosed) return;
      const error = this.#safe(caught, "authentication");
      if (this.#authAttempts >= this.#options.maxAuthAttempts) {
        this.end(error);
        return;
      }
      this.#phase = "waiting";
      this.#send(errorFrame(error));
      this.#drain();
    }
  }

  async #validate(token: string): Promise<ValidatedSession> {
    const { tessera } = this.#options;
    // A cached session answers without the peer's address (only a refusal is throttled by it).
    const validated = tessera.validateSync(token) ?? (await tessera.validate(token, this.#metadata()));
    if (validated.credential === "jwt" && !this.#options.acceptAccessJwt) {
      throw new TesseraError("token_invalid", "Sockets take session tokens; upgrade the access token first.");
    }
    return validated;
  }

  /** A returning client's refresh token: spent, the new pair sent before `ready`. */
  async #redeem(refreshToken: string): Promise<ValidatedSession> {
    const pair = await this.#options.tessera.refresh(refreshToken, { metadata: this.#metadata() });
    if (this.#phase !== "closed") this.#sendTokens(pair);
    // Our own, just-issued credential: a cache hit for a session token.
    return this.#options.tessera.validate(pair.accessToken);
  }

  /**
   * A fresh client (seed 003): logs in through a provider, throttled like HTTP login (same
   * per-username and per-address counters) and bounded per gateway (`maxConcurrentLogins`).
   * The session gets a session token at once; its pair goes out in a `tokens` frame.
   */
  async #login(provider: string, fields: { readonly [key: string]: unknown }): Promise<ValidatedSession> {
    const { tessera, loginSlots } = this.#options;
    if (!loginSlots.tryTake()) {
      throw new TesseraError("rate_limited", "Too many socket logins in progress; try again shortly.", {
        retryAfterSeconds: 1,
      });
    }
    let pair: TokenPair;
    try {
      pair = await tessera.loginWith(provider, fields, this.#metadata(), { tokenType: "session" });
    } finally {
      loginSlots.release();
    }
    if (this.#phase === "closed") {
      // The client left while its password was checked: nobody holds these tokens.
      await tessera.logout(pair.sessionId, this.#metadata()).catch(() => undefined);
      throw new TesseraError("token_revoked", "The connection closed during login.");
    }
    this.#sendTokens(pair);
    return tessera.validate(pair.accessToken);
  }

  #stopAuthTimer(): void {
    if (this.#authTimer === null) return;
    clearTimeout(this.#authTimer);
    this.#authTimer = null;
  }

  #becomeReady({ session, user }: ValidatedSession): void {
    this.#stopAuthTimer();
    if (!this.#registry.add(session.id, session.userId, this)) {
      this.end(new TesseraError("token_revoked", "The session has ended."));
      return;
    }
    this.#session = session;
    this.#user = user;
    this.#expiresAtMs = Date.parse(session.expiresAt);
    // Authenticating was a use (validate recorded it).
    this.#lastUseAt = this.#options.clock();
    this.#lastTouchAt = this.#lastUseAt;
    this.#phase = "ready";
    this.#send({ type: "ready", sessionId: session.id, userId: user.id, expiresAt: session.expiresAt });
    this.#drain();
  }

  #drain(): void {
    while (this.#queue !== null && (this.#phase === "ready" || this.#phase === "waiting")) {
      if (this.#phase === "ready" && !this.#used()) return;
      const next = this.#queue.shift();
      if (this.#queue?.length === 0) this.#queue = null;
      if (next !== undefined) this.#dispatch(next);
    }
  }

  #message(frame: Extract<ClientFrame, { type: "message" }>): void {
    if (this.#options.clock() >= this.#expiresAtMs) {
      this.end(new TesseraError("token_expired", "The session has expired."));
      return;
    }
    const handler = this.#options.gates.get(frame.gate);
    if (handler === undefined) {
      this.#send(errorFrame(new TesseraError("not_found", "No such gate."), frame.id));
      return;
    }
    if (this.#options.tessera.revocationsCurrent) void this.#runGate(handler, frame);
    else void this.#runGateConfirmed(handler, frame);
  }

  /**
   * The revocation lease is lost: this node may have missed a revocation, so no message is
   * accepted on what it knew before. The session is confirmed with the store first; a
   * store that cannot answer gets the message an `unavailable` error (the socket stays, the
   * client may retry), a session that has ended closes the socket as usual.
   */
  async #runGateConfirmed(
    handler: GateHandler,
    frame: Extract<ClientFrame, { type: "message" }>,
  ): Promise<void> {
    const sessionId = this.#session?.id;
    if (sessionId === undefined) return;
    try {
      await this.#options.tessera.confirmSession(sessionId);
    } catch (caught) {
      const error = this.#safe(caught, "confirm session");
      if (error.code === "token_revoked" || error.code === "token_expired") this.end(error);
      else if (this.#phase === "ready") this.#send(errorFrame(error, frame.id));
      return;
    }
    if (this.#phase === "ready") await this.#runGate(handler, frame);
  }

  async #runGate(handler: GateHandler, frame: Extract<ClientFrame, { type: "message" }>): Promise<void> {
    const session = this.#session;
    const user = this.#user;
    if (session === null || user === null) return;
    let text: string;
    try {
      const data = await handler({ session, user, data: frame.data, connectionId: this.id });
      // Serialised here so that a reply that is not JSON (a BigInt, a cycle) is the gate's error.
      text = serialiseFrame({ type: "reply", id: frame.id, data: data ?? null });
    } catch (caught) {
      text = serialiseFrame(errorFrame(this.#safe(caught, `gate ${frame.gate}`), frame.id));
    }
    if (this.#phase === "ready") this.#transport.send(text);
  }

  async #refresh(refreshToken: string): Promise<void> {
    try {
      // Only this socket's own session: another user's token must neither work nor be spent.
      const pair = await this.#options.tessera.refresh(refreshToken, {
        metadata: this.#metadata(),
        sessionId: this.#session?.id ?? null,
      });
      if (this.#phase !== "ready") return;
      if (pair.sessionId === this.#session?.id) this.#expiresAtMs = Date.parse(pair.refreshExpiration);
      this.#sendTokens(pair);
    } catch (caught) {
      // Reuse of this session's token has already closed the socket through the registry.
      if (this.#phase === "ready") this.#send(errorFrame(this.#safe(caught, "refresh")));
    }
  }

  /** Seed 003: the server renews a session near its end and pushes the tokens unasked. */
  async #renew(): Promise<void> {
    const sessionId = this.#session?.id;
    if (sessionId === undefined) return;
    this.#renewing = true;
    const { tessera, clock, renewBeforeExpiryMs } = this.#options;
    try {
      // The client may have refreshed over HTTP meanwhile; reissuing then would needlessly
      // supersede the refresh token it holds.
      const current = await tessera.getSession(sessionId);
      if (this.#phase !== "ready") return;
      if (current === null) throw new TesseraError("token_revoked", "The session has ended.");
      this.updateSession(current);
      if (this.#expiresAtMs - clock() > renewBeforeExpiryMs) return;
      if (this.#atCap()) {
        this.#tellExpiring();
        return;
      }
      const pair = await tessera.reissue(sessionId, this.#metadata());
      if (this.#phase !== "ready") return;
      this.#expiresAtMs = Date.parse(pair.refreshExpiration);
      this.#sendTokens(pair);
    } catch (caught) {
      const error = this.#safe(caught, "renew");
      if (error.code === "token_revoked" || error.code === "token_expired") this.end(error);
      // Anything else (the store is down): try again at the next heartbeat.
    } finally {
      this.#renewing = false;
    }
  }

  /** Whether the session's expiry has reached its absolute cap, so that no renewal can extend it. */
  #atCap(): boolean {
    // Read from the session when needed (near the end only): not one more number per socket.
    const session = this.#session;
    return session !== null && this.#expiresAtMs >= Date.parse(session.maxExpiresAt);
  }

  /** No `tokens` frame can come any more: the client is told once, and when the session ends. */
  #tellExpiring(): void {
    if (this.#toldExpiring) return;
    this.#toldExpiring = true;
    this.#send({ type: "expiring", expiresAt: new Date(this.#expiresAtMs).toISOString() });
  }

  /** When this socket would see its session idle; Infinity when the rule is off. */
  #idleDeadline(): number {
    const { idleTimeoutMs, touchIntervalMs } = this.#options.tessera.options;
    return idleTimeoutMs === 0 ? Number.POSITIVE_INFINITY : this.#lastUseAt + touchIntervalMs + idleTimeoutMs;
  }

  /**
   * A client frame on a ready socket is a use of the session. Recorded through the engine
   * once per touch interval (coalesced, like validations). Past this socket's idle deadline
   * the frame waits (false) while the engine decides: another surface may have used the
   * session meanwhile, or it is idle and the socket closes with `token_expired`.
   */
  #used(): boolean {
    const now = this.#options.clock();
    if (now >= this.#idleDeadline()) {
      void this.#checkIdle(true);
      return false;
    }
    this.#lastUseAt = now;
    if (now - this.#lastTouchAt >= this.#options.tessera.options.touchIntervalMs) {
      this.#lastTouchAt = now;
      const sessionId = this.#session?.id;
      if (sessionId !== undefined) {
        this.#options.tessera.checkSession(sessionId, { use: true }).catch((caught: unknown) => {
          const error = this.#safe(caught, "touch");
          if (error.code === "token_revoked" || error.code === "token_expired") this.end(error);
        });
      }
    }
    return true;
  }

  /** Asks the engine whether the session is idle; `use`: a frame is waiting and counts as a use. */
  async #checkIdle(use: boolean): Promise<void> {
    const sessionId = this.#session?.id;
    if (sessionId === undefined || this.#phase !== "ready") return;
    this.#phase = "checking";
    try {
      const session = await this.#options.tessera.checkSession(sessionId, { use });
      if (this.isClosed) return;
      const now = this.#options.clock();
      // Another surface's use (the store's lastSeenAt) counts as this socket's too.
      this.#lastUseAt = use ? now : Math.max(this.#lastUseAt, Date.parse(session.lastSeenAt));
      if (use) this.#lastTouchAt = now;
      this.#phase = "ready";
      this.updateSession(session);
      this.#drain();
    } catch (caught) {
      if (this.isClosed) return;
      const error = this.#safe(caught, "idle check");
      if (error.code === "token_revoked" || error.code === "token_expired") {
        this.end(error);
        return;
      }
      // The store is unreachable: fail closed for the waiting frames, try again later.
      this.#phase = "ready";
      const waiting = this.#queue ?? [];
      this.#queue = null;
      for (const frame of waiting) {
        this.#send(errorFrame(error, frame.type === "message" ? frame.id : undefined));
      }
    }
  }

  #sendTokens(pair: TokenPair): void {
    this.#send({ type: "tokens", ...pair });
  }

  #send(frame: ServerFrame): void {
    if (this.#phase !== "closed") this.#transport.send(serialiseFrame(frame));
  }

  /** A client-safe error; what is not a `TesseraError` goes to the log with its stack. */
  #safe(caught: unknown, context: string): TesseraError {
    const error = toTesseraError(caught);
    if (error.code === "internal_error") {
      const cause = error.cause ?? caught;
      this.#options.log.error(
        {
          connectionId: this.id,
          context,
          error: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause),
        },
        "socket operation failed",
      );
    }
    return error;
  }
}

function notYet(): TesseraError {
  return new TesseraError("forbidden", "Authenticate first.");
}
