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
 *   into `unavailable` and fails closed.
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
}

export type NewUser = Omit<UserRecord, "id">;

export type SessionTokenType = "jwt" | "session";

export interface SessionMetadata {
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
}

export interface SessionRecord {
  readonly id: string;
  readonly userId: number;
  readonly deviceId: string | null;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
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

export type ConsumeLinkOutcome =
  | { readonly kind: "consumed"; readonly link: LinkRecord }
  | { readonly kind: "used" }
  | { readonly kind: "expired" }
  | { readonly kind: "not_found" };

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
  | { readonly kind: "session_updated"; readonly sessionId: string }
  | { readonly kind: "denied"; readonly entry: DenylistEntry }
  /** A signing key was saved or deleted (a rotation, perhaps by `tessera keys rotate`). */
  | { readonly kind: "keys_changed" };

export interface StoreEventFeed {
  /** Calls `listener` for every event, from this process or others sharing the store. */
  subscribe(listener: (event: StoreEvent) => void): () => void;
  /**
   * False when the feed may have missed events (its database did not answer lately).
   * The engine then stops trusting its caches and fails closed.
   */
  isCurrent(): boolean;
}

export interface SessionStore {
  /** A short name for logs and health output, e.g. `sqlite:./data/tessera.db`. */
  readonly name: string;
  readonly events: StoreEventFeed;

  // Users
  /** Atomic on `usernameKey`: of two concurrent creates, one wins; the other gets `null`. */
  createUser(user: NewUser): Promise<UserRecord | null>;
  findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null>;
  findUserById(id: number): Promise<UserRecord | null>;
  listUsers(options?: { readonly limit?: number; readonly offset?: number }): Promise<UserRecord[]>;

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
  /** Replaces the session's `data`. Returns null when the session is not live. */
  updateSessionData(sessionId: string, data: JsonValue, now: number): Promise<SessionRecord | null>;
  /** Best-effort `lastSeenAt` update. */
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

  // Access JWT denylist
  /** Live (unexpired at `now`) denylist entries, to warm the engine's in-memory set. */
  listDenylist(now: number): Promise<DenylistEntry[]>;

  // Single-use links
  createLink(link: NewLink): Promise<void>;
  /**
   * Atomic: of any number of concurrent consumers exactly one gets `consumed`; the others
   * get `used`. An expired link gives `expired` and is not consumed.
   */
  consumeLink(hash: string, now: number): Promise<ConsumeLinkOutcome>;
  /** Reads a link without consuming it (for confirmation pages and HEAD requests). */
  peekLink(hash: string): Promise<LinkRecord | null>;

  // Replay protection for signed payloads
  /** Atomic insert-if-absent. True when the nonce was new, false when it was seen before. */
  rememberNonce(key: string, expiresAt: number, now: number): Promise<boolean>;

  // Signing keys
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts a key; when it is active (retiredAt null), every other active key is retired at its createdAt. */
  saveSigningKey(key: SigningKeyRecord): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;

  /**
   * Deletes expired nonces and denylist entries, and sessions, refresh tokens and links that
   * ended more than `RETENTION_MS` ago. Returns rows removed.
   */
  purgeExpired(now: number): Promise<number>;
  /** A cheap round trip to the database, for `/healthz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
