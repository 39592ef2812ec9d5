/**
 * `Tessera`: the session engine an application embeds. It composes the store, keys,
 * caches and hooks, and exposes one method per flow; the flows themselves live one per
 * file beside this one. It knows nothing of HTTP, sockets, gRPC or any concrete store.
 *
 * ```ts
 * const tessera = await Tessera.create({ store: SqliteStore.open({ path: "./data/tessera.db" }) });
 * await tessera.register({ username: "hero", password: "secret123" });
 * const pair = await tessera.login({ username: "hero", password: "secret123" });
 * const { session, user } = await tessera.validate(pair.accessToken);
 * ```
 */
import { randomUUID } from "node:crypto";
import type { JWK } from "jose";
import { TesseraError } from "../errors.js";
import { PasswordHasher } from "../passwords/password-hasher.js";
import { normaliseUsername } from "../passwords/username.js";
import type { IdentityKey, JsonValue, SessionStore } from "../stores/session-store.js";
import type { SigningAlgorithm } from "../tokens/keys.js";
import {
  type ChangePasswordInput,
  changePassword,
  type ReauthenticateInput,
  reauthenticate,
} from "./account.js";
import { type Authenticated, authenticateWith, type LoginWithOptions, loginWith } from "./authenticate.js";
import { type BodyParser, BodyParsers, mediaTypeOf } from "./body-parsers.js";
import { type EngineContext, type EngineEvent, fromStore, publicUser, sessionProblem } from "./context.js";
import { Denylist } from "./denylist.js";
import { checkFreshness, type FreshnessOptions } from "./freshness.js";
import { type HookHandler, type HookName, Hooks } from "./hooks.js";
import { type LinkedIdentity, linkIdentity, listIdentities, unlinkIdentity } from "./identities.js";
import { checkSession } from "./idle.js";
import { JwtCache } from "./jwt-cache.js";
import { KeyRing } from "./key-ring.js";
import {
  type IssuedLink,
  type IssueLinkInput,
  issueLink,
  type LinkInfo,
  peekLink,
  type RedeemedLink,
  redeemLink,
} from "./links.js";
import { login, startSession } from "./login.js";
import { type ResolvedOptions, resolveOptions, type TesseraOptions } from "./options.js";
import { type MountedPluginRoute, PluginRegistry, type TesseraPlugin } from "./plugins.js";
import { type AuthProvider, ProviderRegistry, passwordProvider } from "./providers.js";
import { refresh } from "./refresh.js";
import { createUser, type RegisterInput, register } from "./register.js";
import { reissue } from "./reissue.js";
import { listSecurityEvents, type SecurityEventFilter, type SecurityEventPage } from "./security-events.js";
import { type SecurityEventListener, SecurityLog } from "./security-log.js";
import { SessionCache } from "./session-cache.js";
import { getSession, listSessions, logout, logoutAll, revokeSession, setSessionData } from "./sessions.js";
import { LoginThrottle } from "./throttle.js";
import { guardTokenUse, TokenThrottle } from "./token-throttle.js";
import type {
  LoginInput,
  PublicUser,
  RefreshOptions,
  RequestMetadata,
  Session,
  StartSessionInput,
  TokenPair,
  ValidatedSession,
} from "./types.js";
import { upgrade } from "./upgrade.js";
import { deleteUser, disableUser, enableUser } from "./users.js";
import { JWT_CACHE_MAX, validate, validateSync } from "./validate.js";

/** A readiness probe slower than this fails. */
const HEALTH_TIMEOUT_MS = 2000;
/** How often expired rows are purged and the in-memory denylist pruned. */
const HOUSEKEEPING_INTERVAL_MS = 60_000;
/** Security events pruned per batch, and batches per housekeeping round (bounded work). */
const EVENT_PRUNE_BATCH = 500;
const EVENT_PRUNE_ROUNDS = 10;

export class Tessera {
  readonly #ctx: EngineContext;
  readonly #listeners = new Set<(event: EngineEvent) => void>();
  readonly #unsubscribe: () => void;
  readonly #housekeeping: NodeJS.Timeout;
  readonly #plugins = new PluginRegistry();
  readonly #bodyParsers = new BodyParsers();
  #closed = false;
  #health: Promise<boolean> | null = null;

  private constructor(ctx: EngineContext) {
    this.#ctx = ctx;
    this.#unsubscribe = ctx.store.events.subscribe((event) => this.#onStoreEvent(event));
    this.#housekeeping = setInterval(() => void this.#houseKeep(), HOUSEKEEPING_INTERVAL_MS);
    this.#housekeeping.unref();
  }

  /** Opens the engine: loads (or, on first start, generates and stores) signing keys and warms the denylist. */
  static async create(options: TesseraOptions): Promise<Tessera> {
    const resolved = resolveOptions(options);
    // A shared store's clock makes every node agree on expiry and grace windows.
    const storeClock = options.store.clock;
    const now =
      options.clock ?? (storeClock === undefined ? Date.now : (): number => storeClock.call(options.store));
    // The equal-time dummy hash is computed on the thread pool while the keys load and the
    // server starts (11.18); `create` waits only for argon2 to load, logins for the hash.
    const hasher = new PasswordHasher(options.passwords);
    const warm = hasher.warmUp();
    warm.catch(() => undefined);
    const keys = await KeyRing.open({
      store: options.store,
      algorithm: resolved.algorithm,
      jwt: options.jwt,
      windowMs: resolved.accessTtlMs + resolved.skewMs,
      now: now(),
    });
    const providers = new ProviderRegistry();
    providers.register(passwordProvider);
    const denylist = new Denylist();
    for (const entry of await options.store.listDenylist(now())) denylist.add(entry);
    const reportError =
      options.onBackgroundError ??
      ((error: unknown, context: string) => {
        const reason = error instanceof Error ? error.message : String(error);
        process.emitWarning(`tessera: ${context}: ${reason}`);
      });
    await warm;
    return new Tessera({
      store: options.store,
      options: resolved,
      keys,
      hasher,
      hooks: new Hooks(),
      providers,
      throttle:
        options.loginThrottle === false ? null : new LoginThrottle(options.store, options.loginThrottle),
      tokenThrottle: options.tokenThrottle === false ? null : new TokenThrottle(options.tokenThrottle),
      cache: new SessionCache(resolved.cacheTtlMs, resolved.cacheMaxEntries),
      denylist,
      jwtCache: new JwtCache(JWT_CACHE_MAX),
      security: new SecurityLog({
        store: options.store,
        now,
        reportError,
        surface: options.securityEvents?.surface ?? "library",
        maxInFlight: options.securityEvents?.maxInFlight ?? 1000,
      }),
      now,
      reportError,
    });
  }

  /** How many password hashes run at once (the rest wait, up to the queue). */
  get passwordConcurrency(): number {
    return this.#ctx.hasher.concurrency;
  }

  /**
   * The engine's clock (milliseconds since the epoch): the store's on a shared store, else
   * `options.clock` or `Date.now`. Surfaces that time sessions themselves (the socket
   * heartbeat) read this one, so that they agree with the engine.
   */
  get clock(): () => number {
    return this.#ctx.now;
  }

  /** The resolved configuration (lifetimes in milliseconds). */
  get options(): ResolvedOptions {
    return this.#ctx.options;
  }

  get store(): SessionStore {
    return this.#ctx.store;
  }

  /** Registers a typed hook; returns a function that removes it. */
  hook<N extends HookName>(name: N, handler: HookHandler<N>): () => void {
    return this.#ctx.hooks.add(name, handler);
  }

  /** Session ends and data changes, from this process or any other sharing the store. */
  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Self-service registration: `registration_closed` when closed; the `beforeRegister` hook may refuse. */
  register(input: RegisterInput): Promise<PublicUser> {
    return register(this.#ctx, input);
  }

  /** Creates a user as an operator (`tessera users add`): open or closed registration alike, no hook. */
  createUser(input: RegisterInput): Promise<PublicUser> {
    return createUser(this.#ctx, input);
  }

  login(input: LoginInput): Promise<TokenPair> {
    return login(this.#ctx, input);
  }

  /** Logs in through a named provider (`password`, `unamepwd`, or one a plugin registered). */
  loginWith(
    provider: string,
    body: unknown,
    metadata?: RequestMetadata,
    options?: LoginWithOptions,
  ): Promise<TokenPair> {
    return loginWith(this.#ctx, provider, body, metadata, options);
  }

  /** Adds an auth provider, routed as `POST /auth/login/:name`. */
  registerProvider<Input>(provider: AuthProvider<Input>): void {
    this.#ctx.providers.register(provider);
  }

  /** The registered provider with this name or alias. */
  provider(name: string): AuthProvider<unknown> | undefined {
    return this.#ctx.providers.get(name);
  }

  /**
   * Installs a plugin: its providers, hooks and routes, then its `setup`. Call before the
   * HTTP surface is built (it mounts plugin routes once). See `src/engine/plugins.ts`.
   */
  use(plugin: TesseraPlugin): Promise<void> {
    return this.#plugins.install(plugin, {
      tessera: this,
      hasProvider: (name) => this.#ctx.providers.get(name) !== undefined,
      registerProvider: (provider) => this.#ctx.providers.register(provider),
      hook: (name, handler) => this.#ctx.hooks.add(name, handler),
      hasBodyParser: (mediaType) => this.#bodyParsers.has(mediaType),
      registerBodyParser: (mediaType, parser) => this.#bodyParsers.register(mediaType, parser),
    });
  }

  /** Adds a parser for a provider request format (`AuthProvider.contentTypes`), e.g. `application/xml`. */
  registerBodyParser(mediaType: string, parser: BodyParser): void {
    this.#bodyParsers.register(mediaType, parser);
  }

  /**
   * A non-JSON login body for `provider`, parsed: refused with `invalid_request` unless the
   * provider lists the media type in `contentTypes` and a parser for it is registered. The
   * result still goes through the provider's schema (`loginWith`).
   */
  parseProviderBody(provider: string, contentType: string, text: string): unknown {
    const found = this.#ctx.providers.get(provider);
    if (found === undefined) throw new TesseraError("not_found", "No such login provider.");
    const mediaType = mediaTypeOf(contentType);
    if (!(found.contentTypes ?? []).some((type) => mediaTypeOf(type) === mediaType)) {
      throw new TesseraError(
        "invalid_request",
        `The ${found.name} provider does not accept ${mediaType || "untyped"} bodies; send application/json.`,
      );
    }
    return this.#bodyParsers.parse(mediaType, text);
  }

  /** Names of the installed plugins. */
  plugins(): string[] {
    return this.#plugins.names();
  }

  /** Every plugin route, for the surface that mounts them; plugins with routes are refused afterwards. */
  takePluginRoutes(): readonly MountedPluginRoute[] {
    return this.#plugins.takeRoutes();
  }

  /** Runs a provider without starting a session (e.g. to answer with a link instead of tokens). */
  authenticate(provider: string, body: unknown, metadata?: RequestMetadata): Promise<Authenticated> {
    return authenticateWith(this.#ctx, provider, body, metadata);
  }

  /** Issues a single-use pre-authenticated link carrying `data` for a new session. */
  issueLink(input: IssueLinkInput): Promise<IssuedLink> {
    return issueLink(this.#ctx, input);
  }

  /**
   * Consumes a link (atomic: one redeemer wins) and starts its session, `tokenType: "session"`.
   * `metadata.ipAddress` feeds the token-guessing throttle (as for `validate`).
   */
  redeemLink(token: string, metadata?: RequestMetadata): Promise<RedeemedLink> {
    return this.#guard(metadata, () => redeemLink(this.#ctx, token, metadata));
  }

  /** A live link's details without consuming it; the same refusals as `redeemLink`. */
  peekLink(token: string, metadata?: RequestMetadata): Promise<LinkInfo> {
    return this.#guard(metadata, () => peekLink(this.#ctx, token));
  }

  /** Starts a session for an already authenticated user (providers, gRPC, links). */
  startSession(input: StartSessionInput): Promise<TokenPair> {
    return startSession(this.#ctx, input);
  }

  /**
   * The session a token (session token or access JWT) stands for. `metadata.ipAddress`, the
   * client's address, feeds the token-guessing throttle: an address presenting many unknown
   * or forged tokens gets `rate_limited` for a while (a cached valid token is never checked).
   * `options.maxAge` demands a recent proof of identity: a session whose `authenticatedAt`
   * is older answers `reauthentication_required`.
   */
  validate(token: string, metadata?: RequestMetadata, options?: FreshnessOptions): Promise<ValidatedSession> {
    const validated = validate(this.#ctx, token, metadata?.ipAddress);
    if (options?.maxAge === undefined) return validated;
    return validated.then((result) => {
      checkFreshness(result.session, options.maxAge, this.#ctx.now());
      return result;
    });
  }

  /**
   * Proves the user again on a live session (password, or a provider's fields): its
   * `authenticatedAt` and `authMethods` change, nothing else; a wrong password is
   * `invalid_credentials` and counts towards login throttling.
   */
  reauthenticate(input: ReauthenticateInput): Promise<Session> {
    return reauthenticate(this.#ctx, input);
  }

  /**
   * Changes the password of the session's user after checking the current one; every other
   * session of the user ends (sockets included, on every node) and the asking one stays.
   */
  changePassword(input: ChangePasswordInput): Promise<void> {
    return changePassword(this.#ctx, input);
  }

  /**
   * Disables a user: every session and socket of theirs ends at once, on every node, and
   * their logins get `invalid_credentials` until `enableUser`. Returns how many sessions ended.
   */
  disableUser(userId: number): Promise<number> {
    return disableUser(this.#ctx, userId);
  }

  /** Lets a disabled user log in again; the sessions that ended stay ended. */
  enableUser(userId: number): Promise<void> {
    return enableUser(this.#ctx, userId);
  }

  /**
   * Deletes a user and what they stored; every session and socket of theirs ends at once,
   * their tokens answer `token_revoked`, and the username becomes free. Returns how many sessions ended.
   */
  deleteUser(userId: number): Promise<number> {
    return deleteUser(this.#ctx, userId);
  }

  /**
   * Links a provider identity — `(provider, issuer, subject)`, e.g. the partner `acme`'s
   * `alice` through `signed-payload` — to an existing user: that provider's logins of it
   * become this user's, and it can re-authenticate the user's sessions. An identity linked
   * to another user is `invalid_request` (unlink it first); an unknown user `not_found`.
   */
  linkIdentity(input: IdentityKey & { readonly userId: number }): Promise<LinkedIdentity> {
    return linkIdentity(this.#ctx, input);
  }

  /** Unlinks an identity (its next login is a first sight again); false when it was not linked. */
  unlinkIdentity(identity: IdentityKey): Promise<boolean> {
    return unlinkIdentity(this.#ctx, identity);
  }

  /** The provider identities linked to a user, oldest first. */
  listIdentities(userId: number): Promise<LinkedIdentity[]> {
    return listIdentities(this.#ctx, userId);
  }

  /**
   * The same answer as `validate` when it can be given from memory (a cached session token
   * or a JWT verified before, session cached, store feed current); `null` when it cannot —
   * then call `validate`. Never a different answer: a credential `validateSync` accepts,
   * `validate` accepts too, and every refusal comes from `validate`.
   */
  validateSync(token: string): ValidatedSession | null {
    return validateSync(this.#ctx, token);
  }

  upgrade(accessToken: string, metadata?: RequestMetadata): Promise<TokenPair> {
    return this.#guard(metadata, () => upgrade(this.#ctx, accessToken, metadata));
  }

  /** Spends a refresh token for a new pair; `metadata.ipAddress` feeds the token-guessing throttle. */
  refresh(refreshToken: string, options: RefreshOptions = {}): Promise<TokenPair> {
    return this.#guard(options.metadata, () =>
      refresh(this.#ctx, refreshToken, options.sessionId, options.metadata),
    );
  }

  /**
   * Extends a live session by its full lifetime, up to its absolute cap (`maxExpiresAt`),
   * and issues new tokens without a refresh token (the socket heartbeat's push). The
   * session's current refresh token is superseded.
   */
  reissue(sessionId: string, metadata?: RequestMetadata): Promise<TokenPair> {
    return reissue(this.#ctx, sessionId, metadata);
  }

  /** `metadata`: who asked, for the security log. */
  logout(sessionId: string, metadata?: RequestMetadata): Promise<void> {
    return logout(this.#ctx, sessionId, metadata);
  }

  /** Ends every session of the user (atomic against concurrent logins), but `keepSessionId`. */
  logoutAll(
    userId: number,
    options?: { readonly keepSessionId?: string | null; readonly metadata?: RequestMetadata },
  ): Promise<number> {
    return logoutAll(this.#ctx, userId, options);
  }

  listSessions(userId: number): Promise<Session[]> {
    return listSessions(this.#ctx, userId);
  }

  /**
   * The live session by id, or the error its tokens would get now (`token_revoked`,
   * `token_expired` when past its expiry or idle). With `use: true` it counts as a use for
   * the idle rule (a socket frame does this), written to the store coalesced.
   */
  async checkSession(sessionId: string, options: { readonly use?: boolean } = {}): Promise<Session> {
    return (await checkSession(this.#ctx, sessionId, { use: options.use === true })).session;
  }

  getSession(sessionId: string): Promise<Session | null> {
    return getSession(this.#ctx, sessionId);
  }

  /**
   * Whether this node has confirmed, within its revocation lease, that it has seen every
   * revocation (the store's event feed is current). While false, answers come from the
   * store, never from caches, and fail with `unavailable` when the store cannot answer.
   */
  get revocationsCurrent(): boolean {
    return this.#ctx.store.events.isCurrent();
  }

  /**
   * Resolves when the session is live; throws `token_revoked`, `token_expired`, or
   * `unavailable` when that cannot be confirmed. From the cache while the lease holds,
   * else from the store.
   */
  async confirmSession(sessionId: string): Promise<void> {
    await checkSession(this.#ctx, sessionId, { use: false });
  }

  /**
   * Whether the session is live, asked of the store (not the cache): for a surface that must
   * re-check what it holds after the store's feed reset. A store failure rejects.
   */
  async isSessionLive(sessionId: string): Promise<boolean> {
    const record = await fromStore(this.#ctx.store.getSession(sessionId));
    return record !== null && sessionProblem(record, false, this.#ctx.now()) === null;
  }

  revokeSession(
    sessionId: string,
    options?: { readonly ownerId?: number; readonly reason?: string; readonly metadata?: RequestMetadata },
  ): Promise<void> {
    return revokeSession(this.#ctx, sessionId, options);
  }

  /** The security log, newest first, one page at a time (`GET /auth/events`, `tessera events`). */
  listSecurityEvents(filter?: SecurityEventFilter): Promise<SecurityEventPage> {
    return listSecurityEvents(this.#ctx, filter);
  }

  /**
   * Hears every security event this process records, once its append has settled
   * (`stored` false when the store refused it or the backlog was full).
   */
  onSecurityEvent(listener: SecurityEventListener): () => void {
    return this.#ctx.security.subscribe(listener);
  }

  /** Resolves once every security event recorded so far has been written (or has failed). */
  securityEventsSettled(): Promise<void> {
    return this.#ctx.security.settled();
  }

  setSessionData(sessionId: string, data: JsonValue): Promise<Session> {
    return setSessionData(this.#ctx, sessionId, data);
  }

  async findUser(username: string): Promise<PublicUser | null> {
    const user = await fromStore(this.#ctx.store.findUserByUsernameKey(normaliseUsername(username).key));
    return user === null ? null : publicUser(user);
  }

  /** The public keys that verify access JWTs (`/.well-known/jwks.json`). */
  jwks(): { keys: JWK[] } {
    return this.#ctx.keys.jwks(this.#ctx.now());
  }

  /**
   * Starts signing with a new key of the active key's algorithm (or `algorithm`); the old
   * one verifies until its tokens have expired.
   */
  async rotateKeys(
    options: { readonly algorithm?: SigningAlgorithm; readonly metadata?: RequestMetadata } = {},
  ): Promise<string> {
    const kid = await this.#ctx.keys.rotate(this.#ctx.now(), options.algorithm);
    const alg = this.#ctx.keys.list().find((key) => key.kid === kid)?.alg ?? null;
    this.#ctx.security.record({ kind: "key_rotated", metadata: options.metadata, detail: { kid, alg } });
    return kid;
  }

  listKeys(): readonly { kid: string; alg: string; createdAt: number; retiredAt: number | null }[] {
    return this.#ctx.keys.list();
  }

  /**
   * Whether the store can serve (readiness): it answers a read (`ping`), takes a cheap write
   * through a real store operation (a nonce that expires in a minute), and its event feed is
   * current. Concurrent checks share one probe (a burst of checks costs one write). A probe
   * that takes longer than `HEALTH_TIMEOUT_MS` counts as a failure.
   */
  healthy(): Promise<boolean> {
    if (this.#health !== null) return this.#health;
    const answer = this.#probe().finally(() => {
      this.#health = null;
    });
    this.#health = answer;
    return answer;
  }

  async #probe(): Promise<boolean> {
    const { store } = this.#ctx;
    const work = (async () => {
      await store.ping();
      const now = this.#ctx.now();
      await store.rememberNonce(`health:${randomUUID()}`, now + 60_000, now);
      return store.events.isCurrent();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
      timer.unref();
    });
    try {
      return await Promise.race([work.catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops timers and listeners. Does not close the store, which the caller owns. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#housekeeping);
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #onStoreEvent(event: Parameters<Parameters<SessionStore["events"]["subscribe"]>[0]>[0]): void {
    const ctx = this.#ctx;
    switch (event.kind) {
      case "session_revoked":
        ctx.cache.markRevoked(event.sessionId);
        ctx.denylist.add({
          id: `sid:${event.sessionId}`,
          expiresAt: ctx.now() + ctx.options.accessTtlMs + ctx.options.skewMs,
        });
        this.#emit({
          type: "session_ended",
          sessionId: event.sessionId,
          userId: event.userId,
          reason: event.reason,
        });
        return;
      case "user_sessions_revoked":
        ctx.cache.markUserRevoked(event.userId, event.keepSessionId);
        this.#emit({
          type: "user_sessions_ended",
          userId: event.userId,
          reason: event.reason,
          keepSessionId: event.keepSessionId,
        });
        return;
      case "session_updated":
        ctx.cache.evict(event.sessionId);
        this.#emit({ type: "session_updated", sessionId: event.sessionId });
        return;
      case "user_updated":
        ctx.cache.evictUser(event.userId);
        this.#emit({ type: "user_updated", userId: event.userId });
        return;
      case "reset":
        this.#reset();
        return;
      case "denied":
        ctx.denylist.add(event.entry);
        return;
      case "keys_changed":
        ctx.keys.reload(ctx.now()).catch((error: unknown) => ctx.reportError(error, "signing key reload"));
        return;
      default:
        event satisfies never;
    }
  }

  #guard<T>(metadata: RequestMetadata | undefined, work: () => Promise<T>): Promise<T> {
    return guardTokenUse(this.#ctx.tokenThrottle, metadata?.ipAddress, this.#ctx.now, work);
  }

  /** The feed may have missed events: nothing cached can be trusted, the denylist is reloaded. */
  #reset(): void {
    const ctx = this.#ctx;
    ctx.cache.clear();
    ctx.jwtCache.clear();
    ctx.store
      .listDenylist(ctx.now())
      .then((entries) => {
        for (const entry of entries) ctx.denylist.add(entry);
      })
      .catch((error: unknown) => ctx.reportError(error, "denylist reload after a feed reset"));
    this.#emit({ type: "reset" });
  }

  #emit(event: EngineEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#ctx.reportError(error, "event listener");
      }
    }
  }

  async #houseKeep(): Promise<void> {
    const now = this.#ctx.now();
    this.#ctx.denylist.prune(now);
    this.#ctx.jwtCache.prune(now - this.#ctx.options.skewMs);
    await this.#ctx.store.purgeExpired(now).catch((error: unknown) => this.#ctx.reportError(error, "purge"));
    await this.pruneSecurityEvents().catch((error: unknown) =>
      this.#ctx.reportError(error, "security event pruning"),
    );
  }

  /**
   * Deletes security events past the retention (`securityEvents.retentionDays`), in
   * bounded batches; the housekeeping timer calls it every minute. Returns how many.
   */
  async pruneSecurityEvents(): Promise<number> {
    const retention = this.#ctx.options.eventRetentionMs;
    if (retention === 0) return 0;
    const before = this.#ctx.now() - retention;
    let removed = 0;
    for (let round = 0; round < EVENT_PRUNE_ROUNDS; round++) {
      const batch = await this.#ctx.store.pruneSecurityEvents(before, EVENT_PRUNE_BATCH);
      removed += batch;
      if (batch < EVENT_PRUNE_BATCH) break;
    }
    return removed;
  }
}
