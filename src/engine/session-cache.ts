/**
 * The in-process cache in front of the store: what makes validating a session token a
 * hash and a map lookup. Entries are keyed by session id, with an index from session-token
 * digest to the same entry. Store events (this process's and other processes') keep it
 * right: a revoked session becomes a tombstone that answers `token_revoked` without the
 * store; an updated one is evicted. Entries live at most `ttlMs`, and the map is bounded
 * (the oldest entry goes first).
 *
 * A store read that started before an invalidation must not fill the cache after it (it
 * would cache the state the invalidation just ended, for up to `ttlMs`). Every invalidation
 * takes a number from a counter (`epoch`); a caller takes `epoch` before it reads the store
 * and passes it to `put`, which keeps the record only when no invalidation of that session
 * (or a `clear`) came after.
 *
 * Memory: a default cache holds 100,000 sessions, so an entry keeps only what validation
 * reads (numbers, not ISO strings) and, as one compact JSON text, what only the public
 * `Session` shows. The user object is shared by the user's entries, which are linked
 * through the entries themselves (no set per user). The frozen answer a validation returns
 * is made from the entry on first use and kept for the `HOT_ANSWERS` sessions answered
 * most recently; a session past that is answered again from its entry (about a microsecond
 * more, the same values in a new frozen object).
 */
import type { JsonValue, SessionRecord, SessionTokenType } from "../stores/session-store.js";
import { digestKeyOf } from "../tokens/opaque.js";
import { isoTime } from "./iso-time.js";
import type { PublicUser, Session, ValidatedSession } from "./types.js";

/** How many sessions keep their materialised answer (a ring: the oldest answer goes first). */
export const HOT_ANSWERS = 1024;

type Credential = ValidatedSession["credential"];

export interface CacheEntry {
  readonly id: string;
  readonly userId: number;
  readonly user: PublicUser;
  readonly tokenType: SessionTokenType;
  readonly expiresAt: number;
  readonly maxExpiresAt: number;
  readonly cachedAt: number;
  /** Last time `lastSeenAt` was written to the store for this session. */
  touchedAt: number;
  revoked: boolean;
  /** The public session as the store returned it (`lastSeenAt` from the record, not `touchedAt`). */
  readonly session: Session;
  /** The frozen answer of a validation by `credential`: the same object while it is hot. */
  answerAs(credential: Credential): ValidatedSession;
  /** The same answer as a settled promise, so that a cache hit of `validate` allocates nothing. */
  settledAs(credential: Credential): Promise<ValidatedSession>;
}

export function toPublicSession(record: SessionRecord): Session {
  // A session's times are often equal (created = authenticated = last seen at login;
  // expiry = cap): equal times share one string.
  const createdAt = isoTime(record.createdAt);
  const iso = (ms: number) => (ms === record.createdAt ? createdAt : isoTime(ms));
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

/** What only the public session shows, in the order `rest` keeps it; null: equal to `createdAt`. */
type Rest = [
  deviceId: string | null,
  deviceName: string | null,
  createdAt: number,
  lastSeenAt: number | null,
  authenticatedAt: number | null,
  authMethods: readonly string[],
  userAgent: string | null,
  ipAddress: string | null,
  data: JsonValue,
];

function restOf(record: SessionRecord): string {
  const rest: Rest = [
    record.deviceId,
    record.deviceName,
    record.createdAt,
    record.lastSeenAt === record.createdAt ? null : record.lastSeenAt,
    record.authenticatedAt === record.createdAt ? null : record.authenticatedAt,
    record.authMethods,
    record.metadata.userAgent,
    record.metadata.ipAddress,
    record.data,
  ];
  return JSON.stringify(rest);
}

/** A user's cached entries (a list through the entries) and the user object they share. */
class UserEntries {
  first: Entry | null = null;

  constructor(
    readonly userId: number,
    public user: PublicUser,
    readonly answers: HotAnswers,
  ) {}
}

/** The entries whose answers are kept: a ring, each new answer drops the oldest one's. */
class HotAnswers {
  readonly #ring: (Entry | undefined)[];
  #next = 0;

  constructor(size: number) {
    this.#ring = new Array<Entry | undefined>(size);
  }

  add(entry: Entry): void {
    const oldest = this.#ring[this.#next];
    if (oldest !== undefined && oldest !== entry) oldest.forgetAnswer();
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#next = 0;
  }
}

interface Answer {
  readonly answer: ValidatedSession;
  settled: Promise<ValidatedSession> | null;
}

/** A cache entry, one fixed shape for all. */
class Entry implements CacheEntry {
  readonly id: string;
  /** The session-token `digestKey` this entry is indexed by, if any. */
  readonly tokenKey: string | null;
  readonly expiresAt: number;
  readonly maxExpiresAt: number;
  readonly tokenType: SessionTokenType;
  touchedAt: number;
  revoked: boolean;
  prevOfUser: Entry | null = null;
  nextOfUser: Entry | null = null;
  // Not `#private`: a private method would cost every entry a brand field.
  private answer: Answer | null = null;
  /** The rest of the public session, as JSON (`Rest`). */
  private readonly rest: string;

  constructor(
    record: SessionRecord,
    readonly owner: UserEntries,
    readonly cachedAt: number,
  ) {
    this.id = record.id;
    this.tokenKey = record.sessionTokenHash === null ? null : digestKeyOf(record.sessionTokenHash);
    this.expiresAt = record.expiresAt;
    this.maxExpiresAt = record.maxExpiresAt;
    this.tokenType = record.tokenType === "session" ? "session" : "jwt";
    this.touchedAt = record.lastSeenAt;
    this.revoked = record.revokedAt !== null;
    this.rest = restOf(record);
  }

  get userId(): number {
    return this.owner.userId;
  }

  get user(): PublicUser {
    return this.owner.user;
  }

  get session(): Session {
    return this.answerAs(this.tokenType === "session" ? "session" : "jwt").session;
  }

  answerAs(credential: Credential): ValidatedSession {
    const kept = this.answer;
    if (kept !== null && kept.answer.credential === credential) return kept.answer;
    return this.materialise(credential).answer;
  }

  settledAs(credential: Credential): Promise<ValidatedSession> {
    let kept = this.answer;
    if (kept === null || kept.answer.credential !== credential) kept = this.materialise(credential);
    if (kept.settled === null) kept.settled = Promise.resolve(kept.answer);
    return kept.settled;
  }

  forgetAnswer(): void {
    this.answer = null;
  }

  private materialise(credential: Credential): Answer {
    const [
      deviceId,
      deviceName,
      createdAt,
      lastSeenAt,
      authenticatedAt,
      authMethods,
      userAgent,
      ipAddress,
      data,
    ] = JSON.parse(this.rest) as Rest;
    const session = toPublicSession({
      id: this.id,
      userId: this.owner.userId,
      deviceId,
      deviceName,
      createdAt,
      lastSeenAt: lastSeenAt ?? createdAt,
      expiresAt: this.expiresAt,
      maxExpiresAt: this.maxExpiresAt,
      authenticatedAt: authenticatedAt ?? createdAt,
      authMethods,
      tokenType: this.tokenType,
      metadata: { userAgent, ipAddress },
      data,
      sessionTokenHash: null,
      revokedAt: null,
      revokedReason: null,
    });
    const answer: Answer = {
      answer: Object.freeze({ session, user: this.owner.user, credential }),
      settled: null,
    };
    this.answer = answer;
    this.owner.answers.add(this);
    return answer;
  }
}

function sameUser(a: PublicUser, b: PublicUser): boolean {
  return a.id === b.id && a.uuid === b.uuid && a.username === b.username;
}

export class SessionCache {
  readonly #bySession = new Map<string, Entry>();
  /** Points at the same entries as `#bySession`, so a hit costs one lookup. */
  readonly #byTokenKey = new Map<string, Entry>();
  #epoch = 0;
  /** The epoch of each session's latest invalidation; the oldest are folded into `#floor`. */
  readonly #invalidated = new Map<string, number>();
  /** The same for user-wide invalidations (every session of the user went stale). */
  readonly #invalidatedUsers = new Map<number, number>();
  /** Reads that started before this epoch may not fill the cache at all. */
  #floor = 0;
  /** Each user's cached entries, for the events that concern every session of a user. */
  readonly #byUser = new Map<number, UserEntries>();
  readonly #answers = new HotAnswers(HOT_ANSWERS);

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The entry for a session token's `digestKey`, if cached and fresh. */
  byTokenKey(key: string, now: number): CacheEntry | undefined {
    const entry = this.#byTokenKey.get(key);
    if (entry === undefined || now - entry.cachedAt < this.ttlMs) return entry;
    this.#drop(entry.id);
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
    if (
      since < this.#floor ||
      (this.#invalidated.get(record.id) ?? 0) > since ||
      (this.#invalidatedUsers.get(record.userId) ?? 0) > since
    ) {
      return new Entry(record, new UserEntries(record.userId, user, this.#answers), now);
    }
    this.#drop(record.id);
    while (this.#bySession.size >= this.maxEntries) {
      const oldest = this.#bySession.keys().next();
      if (oldest.done) break;
      this.#drop(oldest.value);
    }
    let owner = this.#byUser.get(record.userId);
    if (owner === undefined) {
      owner = new UserEntries(record.userId, user, this.#answers);
      this.#byUser.set(record.userId, owner);
    } else if (!sameUser(owner.user, user)) {
      owner.user = user;
    }
    const entry = new Entry(record, owner, now);
    entry.nextOfUser = owner.first;
    if (owner.first !== null) owner.first.prevOfUser = entry;
    owner.first = entry;
    this.#bySession.set(record.id, entry);
    if (entry.tokenKey !== null) this.#byTokenKey.set(entry.tokenKey, entry);
    return entry;
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
    for (const id of this.#idsOfUser(userId)) {
      if (id !== keepSessionId) this.markRevoked(id);
    }
  }

  /** Drops every cached session of the user (their user data changed). */
  evictUser(userId: number): void {
    this.#invalidateUser(userId);
    for (const id of this.#idsOfUser(userId)) this.evict(id);
  }

  #idsOfUser(userId: number): string[] {
    const ids: string[] = [];
    for (let entry = this.#byUser.get(userId)?.first ?? null; entry !== null; entry = entry.nextOfUser)
      ids.push(entry.id);
    return ids;
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
    const key = entry.tokenKey;
    if (key !== null && this.#byTokenKey.get(key) === entry) this.#byTokenKey.delete(key);
    const owner = entry.owner;
    if (entry.prevOfUser !== null) entry.prevOfUser.nextOfUser = entry.nextOfUser;
    else owner.first = entry.nextOfUser;
    if (entry.nextOfUser !== null) entry.nextOfUser.prevOfUser = entry.prevOfUser;
    entry.prevOfUser = null;
    entry.nextOfUser = null;
    if (owner.first === null && this.#byUser.get(owner.userId) === owner) this.#byUser.delete(owner.userId);
  }

  /** Forgets everything, and refuses fills from reads that started before now. */
  clear(): void {
    this.#floor = ++this.#epoch;
    this.#invalidated.clear();
    this.#invalidatedUsers.clear();
    this.#bySession.clear();
    this.#byTokenKey.clear();
    this.#byUser.clear();
    this.#answers.clear();
  }

  get size(): number {
    return this.#bySession.size;
  }
}
