/**
 * The storage interface of Tessera: what the engine needs from a database, named after
 * the engine's own operations rather than generic get/set. Every store (memory, SQLite,
 * and later Redis and PostgreSQL) implements this interface and passes the one
 * conformance suite in `conformance.ts`.
 *
 * Rules every implementation keeps:
 * - Tokens are never stored, only their SHA-256 digests (`…Hash` fields, base64url).
 * - Operations documented as atomic are atomic against concurrent callers in this process
 *   and in other processes sharing the database; the doc comment says who wins a race.
 * - Times are milliseconds since the epoch, as numbers.
 * - A store that cannot reach its database rejects with an error; the engine turns that
 *   into `unavailable` and fails closed. No operation hangs: a store bounds every call with
 *   a timeout and rejects when it passes.
 * - Times passed in (`now`, `at`, …) are the caller's; a store compares and writes exactly
 *   those. For several nodes to agree on grace windows and expiry, the engine takes `now`
 *   from the store's `clock` when it has one (an estimate of the store server's time).
 * - Nothing updates a record into existence: an update of a deleted or revoked session is a
 *   no-op that reports it, never a write that brings it back; no update removes an expiry.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface UserRecord {
  /** Positive integer, assigned by the store. */
  readonly id: number;
  readonly uuid: string;
  /** As the user typed it, after trimming and NFKC normalisation. */
  readonly username: string;
  /** The uniqueness key: `username` case-folded. */
  readonly usernameKey: string;
  /** argon2id PHC string; null for users who only sign in through a provider. */
  readonly passwordHash: string | null;
  readonly createdAt: number;
  /** When the account was disabled; null while it is enabled. Disabled users cannot log in. */
  readonly disabledAt: number | null;
}

export type NewUser = Omit<UserRecord, "id" | "disabledAt">;

/**
 * Who a provider says someone is. Provider identities are a namespace of their own, apart
 * from usernames: `(provider, issuer, subject)` names one person of one partner of one
 * provider, and only the identity table says which user that is.
 */
export interface IdentityKey {
  /** The provider's name (`signed-payload`). */
  readonly provider: string;
  /** The partner or issuer inside the provider (`acme`); `""` for a provider with one. */
  readonly issuer: string;
  /** The issuer's id of the person, exactly as it sent it (compared byte for byte). */
  readonly subject: string;
}

export interface IdentityRecord extends IdentityKey {
  readonly userId: number;
  readonly createdAt: number;
}

export type LinkIdentityOutcome =
  | { readonly kind: "linked"; readonly identity: IdentityRecord }
  /** The identity was linked already (to this user or another): the existing link, unchanged. */
  | { readonly kind: "taken"; readonly identity: IdentityRecord }
  | { readonly kind: "no_user" };

export type SessionTokenType = "jwt" | "session";

export interface SessionMetadata {
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
}

export interface SessionRecord {
  readonly id: string;
  readonly userId: number;
  readonly deviceId: string | null;
  /** A name the client gave the device at login ("Ada's laptop"); at most 64 characters. */
  readonly deviceName: string | null;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  /**
   * The absolute cap, fixed at login: no rotation or reissue moves `expiresAt` past it
   * (stores clamp to it as defence in depth, the engine computes within it).
   */
  readonly maxExpiresAt: number;
  /** When the user last proved who they are on this session (login, re-authentication). */
  readonly authenticatedAt: number;
  /** How they proved it, most recent proof's methods: `pwd`, a provider's name, `link`. */
  readonly authMethods: readonly string[];
  readonly tokenType: SessionTokenType;
  readonly metadata: SessionMetadata;
  readonly data: JsonValue;
  /** SHA-256 of the current session token; null until the session is upgraded. */
  readonly sessionTokenHash: string | null;
  readonly revokedAt: number | null;
  readonly revokedReason: string | null;
}

export interface NewRefreshToken {
  readonly hash: string;
  readonly sessionId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** A refresh token that was already used, as `rotateRefreshToken` reports it. */
export interface SpentRefreshToken {
  readonly hash: string;
  readonly sessionId: string;
  readonly spentAt: number;
  /**
   * The successor pair, encrypted under a key derived from the spent token itself, so that
   * refreshes inside the grace window get the same pair. Null when the token was spent
   * without a successor (superseded by an upgrade).
   */
  readonly sealedSuccessor: string | null;
  /** Whether the successor has itself been used (then a replay is certainly theft). */
  readonly successorSpent: boolean;
}

export type RotateOutcome =
  | { readonly kind: "rotated"; readonly session: SessionRecord }
  | { readonly kind: "spent"; readonly token: SpentRefreshToken; readonly session: SessionRecord }
  | { readonly kind: "expired"; readonly session: SessionRecord }
  | { readonly kind: "revoked"; readonly session: SessionRecord }
  | { readonly kind: "not_found" };

export interface RotateRefreshInput {
  readonly oldHash: string;
  /**
   * When set, only a token of this session may be rotated: another session's token answers
   * `not_found` and is neither spent nor revealed (a socket refreshing in band).
   */
  readonly sessionId?: string | null;
  /** The successor belongs to the spent token's session. */
  readonly successor: Omit<NewRefreshToken, "sessionId">;
  readonly sealedSuccessor: string;
  /**
   * The new session token digest. Applied only when the session is upgraded
   * (`tokenType: "session"`); a `jwt` session keeps `sessionTokenHash` null.
   */
  readonly sessionTokenHash: string | null;
  /** The session's new expiry (reissue extends the session by its full lifetime). */
  readonly expiresAt: number;
  readonly now: number;
}

export interface ReissueSessionInput {
  readonly sessionId: string;
  readonly refreshToken: Omit<NewRefreshToken, "sessionId">;
  /** Applied only when the session is upgraded, as in `RotateRefreshInput`. */
  readonly sessionTokenHash: string | null;
  readonly expiresAt: number;
  readonly now: number;
}

export interface CreateSessionInput {
  readonly session: Omit<SessionRecord, "revokedAt" | "revokedReason">;
  readonly refreshToken: NewRefreshToken;
}

export type UpgradeOutcome =
  | { readonly kind: "upgraded"; readonly session: SessionRecord }
  | { readonly kind: "jti_used" }
  | { readonly kind: "not_live" }
  | { readonly kind: "already_upgraded" };

export interface UpgradeSessionInput {
  readonly sessionId: string;
  /** The upgraded JWT's id, denylisted until `jtiExpiresAt`. */
  readonly jti: string;
  readonly jtiExpiresAt: number;
  readonly sessionTokenHash: string;
  readonly refreshToken: NewRefreshToken;
  readonly now: number;
  /** When set, becomes the session's `metadata`: the client that upgraded it (seed 000). */
  readonly metadata?: SessionMetadata;
}

export interface LinkRecord {
  readonly hash: string;
  readonly userId: number;
  /** The session the link was issued from, if any (for audit). */
  readonly issuedBySessionId: string | null;
  readonly data: JsonValue;
  readonly redirectTo: string | null;
  readonly confirm: boolean;
  /** Which provider produced the link, so it can choose the response format. */
  readonly provider: string | null;
  readonly deviceId: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly consumedAt: number | null;
}

export type NewLink = Omit<LinkRecord, "consumedAt">;

export interface RedeemLinkInput {
  readonly hash: string;
  readonly now: number;
  /**
   * The session the link opens, built by the engine from a `peekLink` of the same link
   * (links never change except for `consumedAt`). Its `userId` must be the link's.
   */
  readonly session: CreateSessionInput;
}

export type RedeemLinkOutcome =
  | {
      readonly kind: "redeemed";
      readonly link: LinkRecord;
      readonly session: SessionRecord;
      /** Sessions revoked as `device_replaced` by the new session, as in `createSession`. */
      readonly replaced: string[];
    }
  | { readonly kind: "used" }
  | { readonly kind: "expired" }
  | { readonly kind: "not_found" };

/** Arguments of `revokeUserSessions`. */
export interface RevokeUserSessionsInput {
  readonly userId: number;
  readonly reason: string;
  readonly now: number;
  /** The sessions' `sid` denylist entries last until then (the access JWT lifetime). */
  readonly denyUntil: number;
  /** A session to leave alone (a password change keeps the session that made it). */
  readonly keepSessionId?: string | null;
}

/** A failed-attempt counter shared by every node (login throttling). */
export interface FailureCount {
  readonly failures: number;
  readonly lastFailureAt: number;
}

/**
 * One entry of the append-only security log. Never a password, token or hash: a user is
 * named by id and username key, a client by address and user agent.
 */
export interface SecurityEventRecord {
  /** Unique and increasing in time order (e.g. a ULID, or time + random); the paging cursor. */
  readonly id: string;
  readonly at: number;
  /** e.g. `login_succeeded`, `login_failed`, `session_revoked`; the engine's closed union. */
  readonly kind: string;
  readonly userId: number | null;
  readonly usernameKey: string | null;
  readonly sessionId: string | null;
  /** `http`, `socket`, `grpc`, `cli`, `library`. */
  readonly surface: string | null;
  readonly ipAddress: string | null;
  readonly userAgent: string | null;
  /** Small JSON with what else matters (a revocation's reason, a link's expiry). */
  readonly detail: JsonValue;
}

export interface SecurityEventQuery {
  readonly userId?: number;
  readonly kinds?: readonly string[];
  /** Only events at or after this time. */
  readonly since?: number;
  /** Only events before this time. */
  readonly until?: number;
  /** Paging: only events with an id lower than this one. */
  readonly beforeId?: string;
  /** At most this many, newest first. */
  readonly limit: number;
}

/** A webhook delivery waiting in the store's queue (it survives restarts). */
export interface WebhookDelivery {
  readonly id: string;
  /** The security event it carries; (eventId, endpoint) is unique: enqueueing twice is a no-op. */
  readonly eventId: string;
  /** The receiver's URL. */
  readonly endpoint: string;
  /** The JSON body to POST, exactly as it will be signed. */
  readonly payload: string;
  /** Attempts made so far (a claim counts as an attempt). */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
}

export type NewWebhookDelivery = Omit<WebhookDelivery, "attempts">;

export interface SigningKeyRecord {
  readonly kid: string;
  readonly alg: string;
  /** The private (or secret) key as a JWK, JSON-encoded. */
  readonly privateJwk: string;
  /** The public key as a JWK, JSON-encoded; null for HMAC secrets. */
  readonly publicJwk: string | null;
  readonly createdAt: number;
  /** When it stopped signing; null while it is the active key. */
  readonly retiredAt: number | null;
}

export interface DenylistEntry {
  /** `jti:<id>` for one access JWT, `sid:<id>` for every JWT of a session. */
  readonly id: string;
  readonly expiresAt: number;
}

/**
 * Revoked and expired sessions, spent refresh tokens and used links are kept this long after
 * they end, so that a late caller gets a precise answer (`token_revoked`, `link_used`) rather
 * than `token_invalid`.
 */
export const RETENTION_MS = 24 * 60 * 60 * 1000;

/** What changed, told to every engine sharing the store so caches and sockets follow. */
export type StoreEvent =
  | {
      readonly kind: "session_revoked";
      readonly sessionId: string;
      readonly userId: number;
      readonly reason: string;
    }
  /** Anything cached for the session is stale: its token digest, expiry, data or freshness changed. */
  | { readonly kind: "session_updated"; readonly sessionId: string }
  /**
   * Every session of the user ended (logout-all, password change, disabled or deleted
   * user), except `keepSessionId`. Stores that revoke per session may send one
   * `session_revoked` per session instead; the engine handles both.
   */
  | {
      readonly kind: "user_sessions_revoked";
      readonly userId: number;
      readonly reason: string;
      readonly keepSessionId: string | null;
    }
  /** The user's record changed (disabled, deleted, new password): drop what is cached of them. */
  | { readonly kind: "user_updated"; readonly userId: number }
  | { readonly kind: "denied"; readonly entry: DenylistEntry }
  /** A signing key was saved or deleted (a rotation, perhaps by `tessera keys rotate`). */
  | { readonly kind: "keys_changed" }
  /**
   * The feed may have missed events (a reconnect, a gap in the log, a store that came back
   * empty): every cached state is gone; the engine flushes its caches and reloads the denylist.
   */
  | { readonly kind: "reset" };

export interface StoreEventFeed {
  /** Calls `listener` for every event, from this process or others sharing the store. */
  subscribe(listener: (event: StoreEvent) => void): () => void;
  /**
   * True only while the feed has confirmed, within its lease (`revocationLeaseMs`, default
   * 1000), that it has seen every event the store acknowledged up to a moment inside the
   * lease. False when it may have missed events (its store did not answer lately, the
   * connection stalled, a gap). The engine then stops answering from its caches and reads
   * through to the store, which fails closed with `unavailable` when it cannot answer.
   */
  isCurrent(): boolean;
}

export interface SessionStore {
  /** A short name for logs and health output, e.g. `sqlite:./data/tessera.db`. */
  readonly name: string;
  readonly events: StoreEventFeed;
  /**
   * The store server's clock (ms since the epoch), estimated locally from an offset the
   * store measures against its server; absent for in-process stores (memory, SQLite), whose
   * clock is the process's. Shared stores provide it so every node agrees on time.
   */
  readonly clock?: () => number;

  // Users
  /** Atomic on `usernameKey`: of two concurrent creates, one wins; the other gets `null`. */
  createUser(user: NewUser): Promise<UserRecord | null>;
  findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null>;
  findUserById(id: number): Promise<UserRecord | null>;
  listUsers(options?: { readonly limit?: number; readonly offset?: number }): Promise<UserRecord[]>;
  /** Replaces the password hash (a password change, or a rehash). False for an unknown user. */
  setPasswordHash(userId: number, passwordHash: string): Promise<boolean>;
  /**
   * Atomic: marks the user disabled (keeping an earlier `disabledAt`) and revokes every live
   * session of theirs with reason `user_disabled`, as `revokeUserSessions` does. Returns
   * the sessions it revoked; null for an unknown user. Emits `user_updated`.
   */
  disableUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null>;
  /** Clears `disabledAt`. False for an unknown user. Emits `user_updated`. */
  enableUser(userId: number): Promise<boolean>;
  /**
   * Atomic: revokes every live session of the user (reason `user_deleted`), deletes the
   * user, their links, identities, counters and session data; the username becomes free. Revoked
   * sessions stay as tombstones (with `data` null) until purged, so their tokens keep
   * answering `token_revoked`. Returns the sessions it revoked; null for an unknown user.
   * Security events of the user are kept (they are the audit trail). Emits `user_updated`.
   */
  deleteUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null>;

  // Provider identities (deleteUser removes the user's identities with the user)
  /**
   * Atomic: creates the user and links `identity` to them in one step. Null, with nothing
   * written, when the username key or the identity is taken; of concurrent creates for one
   * identity exactly one succeeds. The identity's `createdAt` is the user's.
   */
  createUserWithIdentity(user: NewUser, identity: IdentityKey): Promise<UserRecord | null>;
  /**
   * Atomic insert-if-absent on (provider, issuer, subject): of concurrent links of one
   * identity exactly one gets `linked`, the others `taken` with the winner's record. An
   * unknown (or deleted) user gives `no_user` and writes nothing.
   */
  linkIdentity(identity: IdentityRecord): Promise<LinkIdentityOutcome>;
  findIdentity(key: IdentityKey): Promise<IdentityRecord | null>;
  /** The user's identities, oldest first (then by provider, issuer, subject). */
  listIdentities(userId: number): Promise<IdentityRecord[]>;
  /** Removes the link; false when there was none. */
  unlinkIdentity(key: IdentityKey): Promise<boolean>;

  // Sessions
  /**
   * Inserts the session and its first refresh token. Atomic with it: when the session has
   * a deviceId, every other live session of the same (user, deviceId) is revoked with
   * reason `device_replaced`; their ids are returned. Of two concurrent creates for one
   * device, the later commit wins and the earlier is revoked.
   */
  createSession(input: CreateSessionInput): Promise<{ session: SessionRecord; replaced: string[] }>;
  getSession(id: string): Promise<SessionRecord | null>;
  findSessionByTokenHash(hash: string): Promise<SessionRecord | null>;
  /** Live (not revoked, not expired at `now`) sessions of a user, newest first. */
  listSessions(userId: number, now: number): Promise<SessionRecord[]>;
  /** Live sessions of every user, newest first, for the management CLI. */
  listAllSessions(now: number, options?: { readonly limit?: number }): Promise<SessionRecord[]>;
  /**
   * Atomic: consumes the JWT's `jti` (denylisting it), turns a live `jwt` session into a
   * `session` session with the given token digest, spends the session's unspent refresh
   * tokens without successor and inserts the new one. Of two concurrent upgrades of one
   * JWT exactly one gets `upgraded`.
   */
  upgradeSession(input: UpgradeSessionInput): Promise<UpgradeOutcome>;
  /**
   * Atomic compare-and-spend of a refresh token: only an unspent token of a live session
   * is rotated; its successor is inserted, the sealed successor kept with the spent token,
   * and the session's expiry (and session token digest, if given) updated in the same
   * transaction. Of concurrent rotations of one token exactly one gets `rotated`; the rest
   * get `spent` with the sealed successor the winner wrote.
   */
  rotateRefreshToken(input: RotateRefreshInput): Promise<RotateOutcome>;
  /**
   * Atomic server-side reissue of a live session (a socket heartbeat pushing fresh tokens):
   * spends every unspent refresh token of the session without successor (superseded),
   * inserts the new one, extends the session and, for an upgraded session, replaces the
   * session token digest. Null when the session is not live at `now`.
   */
  reissueSession(input: ReissueSessionInput): Promise<SessionRecord | null>;
  /** Replaces the session's `data`. Returns null when the session is not live. Emits `session_updated`. */
  updateSessionData(sessionId: string, data: JsonValue, now: number): Promise<SessionRecord | null>;
  /**
   * Records a fresh proof of identity on a live session (`authenticatedAt`, `authMethods`).
   * Returns the updated session; null when it is not live. Emits `session_updated`.
   */
  markAuthenticated(
    sessionId: string,
    at: number,
    methods: readonly string[],
    now: number,
  ): Promise<SessionRecord | null>;
  /** Best-effort `lastSeenAt` update; only moves forward, never revives a revoked or deleted session. */
  touchSession(sessionId: string, at: number): Promise<void>;
  /**
   * Revokes sessions (idempotent; already revoked ones are left as they were) and
   * denylists their `sid` until `denyUntil`. Returns the sessions it revoked now.
   */
  revokeSessions(
    sessionIds: readonly string[],
    reason: string,
    now: number,
    denyUntil: number,
  ): Promise<SessionRecord[]>;
  /**
   * Atomic revoke-all: revokes every live session of the user (but `keepSessionId`) with
   * `reason`, denylists their `sid`s and returns them. Against a concurrent `createSession`
   * for the same user, the new session is either revoked by this call or created after it
   * (and stays live); never live yet missing from `listSessions`. Emits `session_revoked`
   * per session or one `user_sessions_revoked`.
   */
  revokeUserSessions(input: RevokeUserSessionsInput): Promise<SessionRecord[]>;

  // Access JWT denylist
  /** Live (unexpired at `now`) denylist entries, to warm the engine's in-memory set. */
  listDenylist(now: number): Promise<DenylistEntry[]>;

  // Single-use links
  createLink(link: NewLink): Promise<void>;
  /**
   * Atomic, in one step: consumes the link and creates its session (as `createSession`,
   * device replacement included). Of any number of concurrent redeemers exactly one gets
   * `redeemed`; the others get `used`. A crash leaves both done or neither: never a used
   * link without its session. An expired link gives `expired` and is not consumed.
   */
  redeemLink(input: RedeemLinkInput): Promise<RedeemLinkOutcome>;
  /** Reads a link without consuming it (for confirmation pages and HEAD requests). */
  peekLink(hash: string): Promise<LinkRecord | null>;

  // Replay protection for signed payloads
  /** Atomic insert-if-absent. True when the nonce was new, false when it was seen before. */
  rememberNonce(key: string, expiresAt: number, now: number): Promise<boolean>;

  // Throttling shared by every node
  /**
   * Atomic increment of the failure counter `key` (e.g. `u:<usernameKey>`, `ip:<address>`).
   * A counter whose last failure is older than `forgetAfterMs` starts again from zero.
   * Returns the count after this failure.
   */
  recordFailure(key: string, now: number, forgetAfterMs: number): Promise<FailureCount>;
  /** The counter, or null when there is none (or it was forgotten at `now`). */
  readFailures(key: string, now: number, forgetAfterMs: number): Promise<FailureCount | null>;
  clearFailures(key: string): Promise<void>;

  // Security log (append-only)
  appendSecurityEvent(event: SecurityEventRecord): Promise<void>;
  /** Matching events, newest first (by id). */
  listSecurityEvents(query: SecurityEventQuery): Promise<SecurityEventRecord[]>;
  /** Deletes at most `limit` events older than `before` (bounded work per call); returns how many. */
  pruneSecurityEvents(before: number, limit: number): Promise<number>;

  // Webhook delivery queue
  /** Inserts deliveries; one already queued for the same (eventId, endpoint) is left as it is. */
  enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<void>;
  /**
   * Atomically leases up to `limit` deliveries due at `now`: each claimed one gets
   * `attempts + 1` and `nextAttemptAt = now + leaseMs`, so no other claimer (on any node)
   * gets it again until the lease passes. Oldest due first.
   */
  claimWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]>;
  /** Removes a delivery (delivered, or given up after its last attempt). */
  completeWebhook(id: string): Promise<void>;
  /** Schedules the next attempt of a claimed delivery. */
  retryWebhook(id: string, nextAttemptAt: number): Promise<void>;

  // Signing keys
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts a key; when it is active (retiredAt null), every other active key is retired at its createdAt. */
  saveSigningKey(key: SigningKeyRecord): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;

  /**
   * Deletes expired nonces, counters and denylist entries, and sessions, refresh tokens and
   * links that ended more than `RETENTION_MS` ago. Returns rows removed. Bounded work is
   * welcome (a shared store may purge in batches); security events are pruned separately.
   */
  purgeExpired(now: number): Promise<number>;
  /** A cheap round trip to the database, for `/healthz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A store refused to open: its server is unreachable, misconfigured for Tessera (a Redis
 * that may evict revocations, a PostgreSQL without durable commits), or its schema is newer
 * than this version. The message is for an operator and names the fix; it never holds a
 * password (connection URLs are shown without theirs).
 */
export class StoreOpenError extends Error {
  override readonly name = "StoreOpenError";
}
