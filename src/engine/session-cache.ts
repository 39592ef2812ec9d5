/**
 * The in-process cache in front of the store: what makes validating a session token a
 * hash and a map lookup. Entries are keyed by session id, with an index from session-token
 * digest to session id. Store events (this process's and other processes') keep it right:
 * a revoked session becomes a tombstone that answers `token_revoked` without the store; an
 * updated one is evicted. Entries live at most `ttlMs`, and the map is bounded (the oldest
 * entry goes first).
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
  return {
    id: record.id,
    userId: record.userId,
    deviceId: record.deviceId,
    createdAt: new Date(record.createdAt).toISOString(),
    lastSeenAt: new Date(record.lastSeenAt).toISOString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
    tokenType: record.tokenType,
    metadata: record.metadata,
    data: record.data,
  };
}

export class SessionCache {
  readonly #bySession = new Map<string, CacheEntry>();
  /** Points at the same entries as `#bySession`, so a hit costs one lookup. */
  readonly #byTokenHash = new Map<string, CacheEntry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The entry for a session-token digest, if cached and fresh. */
  byTokenHash(hash: string, now: number): CacheEntry | undefined {
    const entry = this.#byTokenHash.get(hash);
    if (entry === undefined || now - entry.cachedAt < this.ttlMs) return entry;
    this.evict(entry.record.id);
    return undefined;
  }

  bySessionId(sessionId: string, now: number): CacheEntry | undefined {
    const entry = this.#bySession.get(sessionId);
    if (entry === undefined) return undefined;
    if (now - entry.cachedAt >= this.ttlMs) {
      this.evict(sessionId);
      return undefined;
    }
    return entry;
  }

  put(record: SessionRecord, user: PublicUser, now: number): CacheEntry {
    this.evict(record.id);
    while (this.#bySession.size >= this.maxEntries) {
      const oldest = this.#bySession.keys().next();
      if (oldest.done) break;
      this.evict(oldest.value);
    }
    const session = toPublicSession(record);
    const entry: CacheEntry = {
      record,
      user,
      session,
      asSessionToken: Object.freeze({ session, user, credential: "session" as const }),
      asJwt: Object.freeze({ session, user, credential: "jwt" as const }),
      cachedAt: now,
      touchedAt: record.lastSeenAt,
      revoked: record.revokedAt !== null,
    };
    this.#bySession.set(record.id, entry);
    if (record.sessionTokenHash !== null) this.#byTokenHash.set(record.sessionTokenHash, entry);
    return entry;
  }

  /** Marks a cached session revoked (a tombstone until it ages out). */
  markRevoked(sessionId: string): void {
    const entry = this.#bySession.get(sessionId);
    if (entry !== undefined) entry.revoked = true;
  }

  evict(sessionId: string): void {
    const entry = this.#bySession.get(sessionId);
    if (entry === undefined) return;
    this.#bySession.delete(sessionId);
    const hash = entry.record.sessionTokenHash;
    if (hash !== null && this.#byTokenHash.get(hash) === entry) this.#byTokenHash.delete(hash);
  }

  clear(): void {
    this.#bySession.clear();
    this.#byTokenHash.clear();
  }

  get size(): number {
    return this.#bySession.size;
  }
}
