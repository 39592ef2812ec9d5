/**
 * The in-process cache in front of the store: what makes validating a session token a
 * hash and a map lookup. Entries are keyed by session id, with an index from session-token
 * digest to session id. Store events (this process's and other processes') keep it right:
 * a revoked session becomes a tombstone that answers `token_revoked` without the store; an
 * updated one is evicted. Entries live at most `ttlMs`, and the map is bounded (the oldest
 * entry goes first).
 *
 * A store read that started before an invalidation must not fill the cache after it (it
 * would cache the state the invalidation just ended, for up to `ttlMs`). Every invalidation
 * takes a number from a counter (`epoch`); a caller takes `epoch` before it reads the store
 * and passes it to `put`, which keeps the record only when no invalidation of that session
 * (or a `clear`) came after.
 */
import type { SessionRecord } from "../stores/session-store.js";
import type { PublicUser, Session, ValidatedSession } from "./types.js";

export interface CacheEntry {
  readonly record: SessionRecord;
  readonly user: PublicUser;
  readonly session: Session;
  /** Reused by every validation of a session token while cached. */
  readonly asSessionToken: ValidatedSession;
  readonly asJwt: ValidatedSession;
  readonly cachedAt: number;
  /** Last time `lastSeenAt` was written to the store for this session. */
  touchedAt: number;
  revoked: boolean;
}

export function toPublicSession(record: SessionRecord): Session {
  // A session's times are often equal (created = authenticated = last seen at login;
  // expiry = cap): equal times share one string.
  const createdAt = new Date(record.createdAt).toISOString();
  const iso = (ms: number) => (ms === record.createdAt ? createdAt : new Date(ms).toISOString());
  const expiresAt = iso(record.expiresAt);
  return {
    id: record.id,
    userId: record.userId,
    deviceId: record.deviceId,
    deviceName: record.deviceName,
    createdAt,
    lastSeenAt: iso(record.lastSeenAt),
    expiresAt,
    maxExpiresAt: record.maxExpiresAt === record.expiresAt ? expiresAt : iso(record.maxExpiresAt),
    authenticatedAt: iso(record.authenticatedAt),
    authMethods: record.authMethods,
    tokenType: record.tokenType,
    metadata: record.metadata,
    data: record.data,
  };
}

/**
 * A cache entry, one fixed shape for all. The validation results are made on first use and
 * then reused: a session is validated by one kind of credential, so the other is never made.
 */
class Entry implements CacheEntry {
  readonly session: Session;
  touchedAt: number;
  revoked: boolean;
  #asSessionToken: ValidatedSession | null = null;
  #asJwt: ValidatedSession | null = null;

  constructor(
    readonly record: SessionRecord,
    readonly user: PublicUser,
    readonly cachedAt: number,
  ) {
    this.session = toPublicSession(record);
    this.touchedAt = record.lastSeenAt;
    this.revoked = record.revokedAt !== null;
  }

  get asSessionToken(): ValidatedSession {
    if (this.#asSessionToken === null)
      this.#asSessionToken = Object.freeze({ session: this.session, user: this.user, credential: "session" });
    return this.#asSessionToken;
  }

  get asJwt(): ValidatedSession {
    if (this.#asJwt === null)
      this.#asJwt = Object.freeze({ session: this.session, user: this.user, credential: "jwt" });
    return this.#asJwt;
  }
}

export class SessionCache {
  readonly #bySession = new Map<string, CacheEntry>();
  /** Points at the same entries as `#bySession`, so a hit costs one lookup. */
  readonly #byTokenHash = new Map<string, CacheEntry>();
  #epoch = 0;
  /** The epoch of each session's latest invalidation; the oldest are folded into `#floor`. */
  readonly #invalidated = new Map<string, number>();
  /** The same for user-wide invalidations (every session of the user went stale). */
  readonly #invalidatedUsers = new Map<number, number>();
  /** Reads that started before this epoch may not fill the cache at all. */
  #floor = 0;
  /** Session ids by user, for the events that concern every session of a user. */
  readonly #byUser = new Map<number, Set<string>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The entry for a session-token digest, if cached and fresh. */
  byTokenHash(hash: string, now: number): CacheEntry | undefined {
    const entry = this.#byTokenHash.get(hash);
    if (entry === undefined || now - entry.cachedAt < this.ttlMs) return entry;
    this.#drop(entry.record.id);
    return undefined;
  }

  bySessionId(sessionId: string, now: number): CacheEntry | undefined {
    const entry = this.#bySession.get(sessionId);
    if (entry === undefined) return undefined;
    if (now - entry.cachedAt >= this.ttlMs) {
      this.#drop(sessionId);
      return undefined;
    }
    return entry;
  }

  /** Take this before a store read whose answer goes to `put`. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Caches a record read from the store (and returns the entry either way). `since` is the
   * `epoch` taken before the read: when the session was invalidated after it, the entry is
   * returned for this one caller but not kept.
   */
  put(record: SessionRecord, user: PublicUser, now: number, since: number): CacheEntry {
    const entry = this.#entryOf(record, user, now);
    if (
      since < this.#floor ||
      (this.#invalidated.get(record.id) ?? 0) > since ||
      (this.#invalidatedUsers.get(record.userId) ?? 0) > since
    ) {
      return entry;
    }
    this.#drop(record.id);
    while (this.#bySession.size >= this.maxEntries) {
      const oldest = this.#bySession.keys().next();
      if (oldest.done) break;
      this.#drop(oldest.value);
    }
    this.#bySession.set(record.id, entry);
    if (record.sessionTokenHash !== null) this.#byTokenHash.set(record.sessionTokenHash, entry);
    let ids = this.#byUser.get(record.userId);
    if (ids === undefined) {
      ids = new Set();
      this.#byUser.set(record.userId, ids);
    }
    ids.add(record.id);
    return entry;
  }

  #entryOf(record: SessionRecord, user: PublicUser, now: number): CacheEntry {
    return new Entry(record, user, now);
  }

  /** Marks a cached session revoked (a tombstone until it ages out). */
  markRevoked(sessionId: string): void {
    this.#invalidate(sessionId);
    const entry = this.#bySession.get(sessionId);
    if (entry !== undefined) entry.revoked = true;
  }

  /**
   * Every cached session of the user but `keepSessionId` becomes a tombstone, and no read
   * that started before this fills the cache with a session of theirs.
   */
  markUserRevoked(userId: number, keepSessionId: string | null): void {
    this.#invalidateUser(userId);
    for (const id of this.#byUser.get(userId) ?? []) {
      if (id !== keepSessionId) this.markRevoked(id);
    }
  }

  /** Drops every cached session of the user (their user data changed). */
  evictUser(userId: number): void {
    this.#invalidateUser(userId);
    for (const id of [...(this.#byUser.get(userId) ?? [])]) this.evict(id);
  }

  #invalidateUser(userId: number): void {
    this.#epoch++;
    this.#invalidatedUsers.delete(userId);
    this.#invalidatedUsers.set(userId, this.#epoch);
    if (this.#invalidatedUsers.size > this.maxEntries) {
      const [oldestId, oldestEpoch] = this.#invalidatedUsers.entries().next().value as [number, number];
      this.#invalidatedUsers.delete(oldestId);
      this.#floor = Math.max(this.#floor, oldestEpoch);
    }
  }

  /** Forgets a session whose cached state went stale (new token digest, data, expiry). */
  evict(sessionId: string): void {
    this.#invalidate(sessionId);
    this.#drop(sessionId);
  }

  #invalidate(sessionId: string): void {
    this.#epoch++;
    this.#invalidated.delete(sessionId);
    this.#invalidated.set(sessionId, this.#epoch);
    if (this.#invalidated.size > this.maxEntries) {
      const [oldestId, oldestEpoch] = this.#invalidated.entries().next().value as [string, number];
      this.#invalidated.delete(oldestId);
      this.#floor = Math.max(this.#floor, oldestEpoch);
    }
  }

  #drop(sessionId: string): void {
    const entry = this.#bySession.get(sessionId);
    if (entry === undefined) return;
    this.#bySession.delete(sessionId);
    const hash = entry.record.sessionTokenHash;
    if (hash !== null && this.#byTokenHash.get(hash) === entry) this.#byTokenHash.delete(hash);
    const ids = this.#byUser.get(entry.record.userId);
    ids?.delete(sessionId);
    if (ids?.size === 0) this.#byUser.delete(entry.record.userId);
  }

  /** Forgets everything, and refuses fills from reads that started before now. */
  clear(): void {
    this.#floor = ++this.#epoch;
    this.#invalidated.clear();
    this.#invalidatedUsers.clear();
    this.#bySession.clear();
    this.#byTokenHash.clear();
    this.#byUser.clear();
  }

  get size(): number {
    return this.#bySession.size;
  }
}
