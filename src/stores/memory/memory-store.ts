/**
 * A `SessionStore` kept in this process's memory: for tests, examples and single-process
 * deployments that can afford to forget every session on restart.
 *
 * Atomicity comes for free: every operation reads and writes inside one synchronous
 * stretch of one method (no `await` in between), so no other caller can interleave.
 * Records are copied on the way in and out, so a caller mutating a returned `data`
 * object cannot change what the store holds — the same isolation a database gives.
 * The event feed calls listeners synchronously, after the change is made, and is always
 * current because there is nothing that could have been missed.
 */

import { EventListeners } from "../event-listeners.js";
import { compareIdentities, identityField, identityKeyOf } from "../identities.js";
import type {
  CreateSessionInput,
  DenylistEntry,
  FailureCount,
  IdentityKey,
  IdentityRecord,
  JsonValue,
  LinkIdentityOutcome,
  LinkRecord,
  NewLink,
  NewRefreshToken,
  NewUser,
  NewWebhookDelivery,
  RedeemLinkInput,
  RedeemLinkOutcome,
  ReissueSessionInput,
  RevokeUserSessionsInput,
  RotateOutcome,
  RotateRefreshInput,
  SecurityEventQuery,
  SecurityEventRecord,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
  StoreEvent,
  StoreEventFeed,
  UpgradeOutcome,
  UpgradeSessionInput,
  UserRecord,
  WebhookDelivery,
} from "../session-store.js";
import { RETENTION_MS } from "../session-store.js";
import { MemoryFailureCounters, MemorySecurityLog, MemoryWebhookQueue } from "./memory-logs.js";

interface StoredRefreshToken extends NewRefreshToken {
  readonly spentAt: number | null;
  readonly successorHash: string | null;
  readonly sealedSuccessor: string | null;
}

function copySession(session: SessionRecord): SessionRecord {
  return {
    ...session,
    authMethods: [...session.authMethods],
    metadata: { ...session.metadata },
    data: structuredClone(session.data),
  };
}

function copyLink(link: LinkRecord): LinkRecord {
  return { ...link, data: structuredClone(link.data) };
}

function isLive(session: SessionRecord, now: number): boolean {
  return session.revokedAt === null && session.expiresAt > now;
}

class MemoryEventFeed extends EventListeners implements StoreEventFeed {
  isCurrent(): boolean {
    return true;
  }
}

export class MemoryStore implements SessionStore {
  readonly name = "memory";
  readonly events: StoreEventFeed;
  readonly #feed = new MemoryEventFeed();
  #closed = false;

  #nextUserId = 1;
  readonly #users = new Map<number, UserRecord>();
  readonly #userIdsByKey = new Map<string, number>();
  /** By `identityField` of the key. */
  readonly #identities = new Map<string, IdentityRecord>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #sessionIdsByUser = new Map<number, Set<string>>();
  readonly #sessionIdsByTokenHash = new Map<string, string>();
  readonly #refreshTokens = new Map<string, StoredRefreshToken>();
  readonly #refreshHashesBySession = new Map<string, Set<string>>();
  readonly #links = new Map<string, LinkRecord>();
  readonly #nonces = new Map<string, number>();
  readonly #denylist = new Map<string, number>();
  readonly #signingKeys = new Map<string, SigningKeyRecord>();
  readonly #failures = new MemoryFailureCounters();
  readonly #securityLog = new MemorySecurityLog();
  readonly #webhooks = new MemoryWebhookQueue();

  constructor() {
    this.events = this.#feed;
  }

  // Users

  async createUser(user: NewUser): Promise<UserRecord | null> {
    this.#assertOpen();
    if (this.#userIdsByKey.has(user.usernameKey)) return null;
    return { ...this.#insertUser(user) };
  }

  #insertUser(user: NewUser): UserRecord {
    const record: UserRecord = { ...user, id: this.#nextUserId++, disabledAt: null };
    this.#users.set(record.id, record);
    this.#userIdsByKey.set(record.usernameKey, record.id);
    return record;
  }

  async findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null> {
    this.#assertOpen();
    const id = this.#userIdsByKey.get(usernameKey);
    return id === undefined ? null : this.#copyUser(id);
  }

  async findUserById(id: number): Promise<UserRecord | null> {
    this.#assertOpen();
    return this.#copyUser(id);
  }

  async listUsers(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<UserRecord[]> {
    this.#assertOpen();
    const offset = options.offset ?? 0;
    const end = options.limit === undefined ? undefined : offset + options.limit;
    // Map iteration order is insertion order, which is id order.
    return [...this.#users.values()].slice(offset, end).map((user) => ({ ...user }));
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<boolean> {
    this.#assertOpen();
    const user = this.#users.get(userId);
    if (user === undefined) return false;
    this.#users.set(userId, { ...user, passwordHash });
    this.#feed.emit([{ kind: "user_updated", userId }]);
    return true;
  }

  async disableUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    const user = this.#users.get(userId);
    if (user === undefined) return null;
    this.#users.set(userId, { ...user, disabledAt: user.disabledAt ?? now });
    const events: StoreEvent[] = [];
    const revoked = this.#revokeUser(userId, "user_disabled", now, denyUntil, null, events);
    events.push({ kind: "user_updated", userId });
    this.#feed.emit(events);
    return revoked.map(copySession);
  }

  async enableUser(userId: number): Promise<boolean> {
    this.#assertOpen();
    const user = this.#users.get(userId);
    if (user === undefined) return false;
    this.#users.set(userId, { ...user, disabledAt: null });
    this.#feed.emit([{ kind: "user_updated", userId }]);
    return true;
  }

  async deleteUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    const user = this.#users.get(userId);
    if (user === undefined) return null;
    const events: StoreEvent[] = [];
    const revoked = this.#revokeUser(userId, "user_deleted", now, denyUntil, null, events);
    // Tombstones keep answering token_revoked, but nothing of what the user stored.
    for (const session of this.#sessionsOfUser(userId)) this.#putSession({ ...session, data: null });
    deleteWhere(this.#links, (link) => link.userId === userId);
    this.#failures.clear(`u:${user.usernameKey}`);
    this.#users.delete(userId);
    this.#userIdsByKey.delete(user.usernameKey);
    deleteWhere(this.#identities, (identity) => identity.userId === userId);
    events.push({ kind: "user_updated", userId });
    this.#feed.emit(events);
    return revoked.map((session) => copySession({ ...session, data: null }));
  }

  // Provider identities

  async createUserWithIdentity(user: NewUser, identity: IdentityKey): Promise<UserRecord | null> {
    this.#assertOpen();
    // No await between the checks and the writes: nothing else runs in between.
    if (this.#identities.has(identityField(identity)) || this.#userIdsByKey.has(user.usernameKey))
      return null;
    const record = this.#insertUser(user);
    this.#identities.set(identityField(identity), {
      ...identityKeyOf(identity),
      userId: record.id,
      createdAt: user.createdAt,
    });
    return { ...record };
  }

  async linkIdentity(identity: IdentityRecord): Promise<LinkIdentityOutcome> {
    this.#assertOpen();
    if (!this.#users.has(identity.userId)) return { kind: "no_user" };
    const field = identityField(identity);
    const existing = this.#identities.get(field);
    if (existing !== undefined) return { kind: "taken", identity: { ...existing } };
    const record: IdentityRecord = {
      ...identityKeyOf(identity),
      userId: identity.userId,
      createdAt: identity.createdAt,
    };
    this.#identities.set(field, record);
    return { kind: "linked", identity: { ...record } };
  }

  async findIdentity(key: IdentityKey): Promise<IdentityRecord | null> {
    this.#assertOpen();
    const found = this.#identities.get(identityField(key));
    return found === undefined ? null : { ...found };
  }

  async listIdentities(userId: number): Promise<IdentityRecord[]> {
    this.#assertOpen();
    return [...this.#identities.values()]
      .filter((identity) => identity.userId === userId)
      .sort(compareIdentities)
      .map((identity) => ({ ...identity }));
  }

  async unlinkIdentity(key: IdentityKey): Promise<boolean> {
    this.#assertOpen();
    return this.#identities.delete(identityField(key));
  }

  // Sessions

  async createSession(input: CreateSessionInput): Promise<{ session: SessionRecord; replaced: string[] }> {
    this.#assertOpen();
    this.#assertCreatable(input);
    const events: StoreEvent[] = [];
    const created = this.#insertSession(input, events);
    this.#feed.emit(events);
    return created;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    const session = this.#sessions.get(id);
    return session === undefined ? null : copySession(session);
  }

  async findSessionByTokenHash(hash: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    const id = this.#sessionIdsByTokenHash.get(hash);
    const session = id === undefined ? undefined : this.#sessions.get(id);
    return session === undefined ? null : copySession(session);
  }

  async listSessions(userId: number, now: number): Promise<SessionRecord[]> {
    this.#assertOpen();
    return newestFirst(this.#sessionsOfUser(userId).filter((s) => isLive(s, now)));
  }

  async listAllSessions(now: number, options: { readonly limit?: number } = {}): Promise<SessionRecord[]> {
    this.#assertOpen();
    const live = newestFirst([...this.#sessions.values()].filter((s) => isLive(s, now)));
    return options.limit === undefined ? live : live.slice(0, options.limit);
  }

  async upgradeSession(input: UpgradeSessionInput): Promise<UpgradeOutcome> {
    this.#assertOpen();
    const jtiId = `jti:${input.jti}`;
    if (this.#denylist.has(jtiId)) return { kind: "jti_used" };
    const session = this.#sessions.get(input.sessionId);
    if (session === undefined || !isLive(session, input.now)) return { kind: "not_live" };
    if (session.tokenType === "session") return { kind: "already_upgraded" };
    this.#assertNewRefreshToken(input.refreshToken.hash);

    const entry = this.#deny({ id: jtiId, expiresAt: input.jtiExpiresAt });
    // The JWT-era refresh tokens are superseded, not rotated: no successor to hand back.
    this.#spendUnspentRefreshTokens(session.id, input.now);
    this.#putRefreshToken({
      ...input.refreshToken,
      spentAt: null,
      successorHash: null,
      sealedSuccessor: null,
    });
    const upgraded: SessionRecord = {
      ...session,
      tokenType: "session",
      sessionTokenHash: input.sessionTokenHash,
      metadata: input.metadata === undefined ? session.metadata : { ...input.metadata },
    };
    this.#putSession(upgraded);
    this.#feed.emit([
      { kind: "denied", entry },
      { kind: "session_updated", sessionId: session.id },
    ]);
    return { kind: "upgraded", session: copySession(upgraded) };
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateOutcome> {
    this.#assertOpen();
    const token = this.#refreshTokens.get(input.oldHash);
    const session = token === undefined ? undefined : this.#sessions.get(token.sessionId);
    if (token === undefined || session === undefined) return { kind: "not_found" };
    if (input.sessionId != null && token.sessionId !== input.sessionId) return { kind: "not_found" };
    if (session.revokedAt !== null) return { kind: "revoked", session: copySession(session) };
    // Spent before expired: a replay must be recognised as one however late it comes.
    if (token.spentAt !== null) {
      const successor =
        token.successorHash === null ? undefined : this.#refreshTokens.get(token.successorHash);
      return {
        kind: "spent",
        session: copySession(session),
        token: {
          hash: token.hash,
          sessionId: token.sessionId,
          spentAt: token.spentAt,
          sealedSuccessor: token.sealedSuccessor,
          successorSpent: successor !== undefined && successor.spentAt !== null,
        },
      };
    }
    if (token.expiresAt <= input.now || session.expiresAt <= input.now) {
      return { kind: "expired", session: copySession(session) };
    }
    this.#assertNewRefreshToken(input.successor.hash);

    this.#refreshTokens.set(token.hash, {
      ...token,
      spentAt: input.now,
      successorHash: input.successor.hash,
      sealedSuccessor: input.sealedSuccessor,
    });
    this.#putRefreshToken({
      ...input.successor,
      expiresAt: Math.min(input.successor.expiresAt, session.maxExpiresAt),
      sessionId: session.id,
      spentAt: null,
      successorHash: null,
      sealedSuccessor: null,
    });
    const rotated: SessionRecord = {
      ...session,
      // The absolute cap holds whatever the caller computed.
      expiresAt: Math.min(input.expiresAt, session.maxExpiresAt),
      // Only an upgraded session has a session token; a jwt session keeps null.
      sessionTokenHash:
        session.tokenType === "session" && input.sessionTokenHash !== null
          ? input.sessionTokenHash
          : session.sessionTokenHash,
    };
    this.#putSession(rotated);
    this.#feed.emit([{ kind: "session_updated", sessionId: session.id }]);
    return { kind: "rotated", session: copySession(rotated) };
  }

  async reissueSession(input: ReissueSessionInput): Promise<SessionRecord | null> {
    this.#assertOpen();
    const session = this.#sessions.get(input.sessionId);
    if (session === undefined || !isLive(session, input.now)) return null;
    this.#assertNewRefreshToken(input.refreshToken.hash);
    this.#spendUnspentRefreshTokens(session.id, input.now);
    this.#putRefreshToken({
      ...input.refreshToken,
      expiresAt: Math.min(input.refreshToken.expiresAt, session.maxExpiresAt),
      sessionId: session.id,
      spentAt: null,
      successorHash: null,
      sealedSuccessor: null,
    });
    const reissued: SessionRecord = {
      ...session,
      expiresAt: Math.min(input.expiresAt, session.maxExpiresAt),
      sessionTokenHash:
        session.tokenType === "session" && input.sessionTokenHash !== null
          ? input.sessionTokenHash
          : session.sessionTokenHash,
    };
    this.#putSession(reissued);
    this.#feed.emit([{ kind: "session_updated", sessionId: session.id }]);
    return copySession(reissued);
  }

  async updateSessionData(sessionId: string, data: JsonValue, now: number): Promise<SessionRecord | null> {
    this.#assertOpen();
    const session = this.#sessions.get(sessionId);
    if (session === undefined || !isLive(session, now)) return null;
    const updated: SessionRecord = { ...session, data: structuredClone(data) };
    this.#putSession(updated);
    this.#feed.emit([{ kind: "session_updated", sessionId }]);
    return copySession(updated);
  }

  async markAuthenticated(
    sessionId: string,
    at: number,
    methods: readonly string[],
    now: number,
  ): Promise<SessionRecord | null> {
    this.#assertOpen();
    const session = this.#sessions.get(sessionId);
    if (session === undefined || !isLive(session, now)) return null;
    const updated: SessionRecord = { ...session, authenticatedAt: at, authMethods: [...methods] };
    this.#putSession(updated);
    this.#feed.emit([{ kind: "session_updated", sessionId }]);
    return copySession(updated);
  }

  async touchSession(sessionId: string, at: number): Promise<void> {
    this.#assertOpen();
    const session = this.#sessions.get(sessionId);
    if (session !== undefined && session.revokedAt === null && at > session.lastSeenAt) {
      this.#putSession({ ...session, lastSeenAt: at });
    }
  }

  async revokeSessions(
    sessionIds: readonly string[],
    reason: string,
    now: number,
    denyUntil: number,
  ): Promise<SessionRecord[]> {
    this.#assertOpen();
    const revoked: SessionRecord[] = [];
    const events: StoreEvent[] = [];
    for (const id of new Set(sessionIds)) {
      const session = this.#sessions.get(id);
      if (session !== undefined && session.revokedAt === null) {
        revoked.push(this.#revoke(session, reason, now, denyUntil, events));
      }
    }
    this.#feed.emit(events);
    return revoked.map(copySession);
  }

  async revokeUserSessions(input: RevokeUserSessionsInput): Promise<SessionRecord[]> {
    this.#assertOpen();
    const events: StoreEvent[] = [];
    const revoked = this.#revokeUser(
      input.userId,
      input.reason,
      input.now,
      input.denyUntil,
      input.keepSessionId ?? null,
      events,
    );
    this.#feed.emit(events);
    return revoked.map(copySession);
  }

  // Access JWT denylist

  async listDenylist(now: number): Promise<DenylistEntry[]> {
    this.#assertOpen();
    return [...this.#denylist]
      .filter(([, expiresAt]) => expiresAt > now)
      .map(([id, expiresAt]) => ({ id, expiresAt }));
  }

  // Single-use links

  async createLink(link: NewLink): Promise<void> {
    this.#assertOpen();
    if (!this.#users.has(link.userId)) throw new Error("createLink: unknown user");
    if (this.#links.has(link.hash)) throw new Error("createLink: link already exists");
    this.#links.set(link.hash, copyLink({ ...link, consumedAt: null }));
  }

  async redeemLink(input: RedeemLinkInput): Promise<RedeemLinkOutcome> {
    this.#assertOpen();
    const link = this.#links.get(input.hash);
    if (link === undefined) return { kind: "not_found" };
    if (link.consumedAt !== null) return { kind: "used" };
    if (link.expiresAt <= input.now) return { kind: "expired" };
    if (input.session.session.userId !== link.userId)
      throw new Error("redeemLink: the session is not the link's user's");
    // Every check that can throw runs before the first change, as a transaction would roll back.
    this.#assertCreatable(input.session);
    const consumed: LinkRecord = { ...link, consumedAt: input.now };
    this.#links.set(input.hash, consumed);
    const events: StoreEvent[] = [];
    const { session, replaced } = this.#insertSession(input.session, events);
    this.#feed.emit(events);
    return { kind: "redeemed", link: copyLink(consumed), session, replaced };
  }

  async peekLink(hash: string): Promise<LinkRecord | null> {
    this.#assertOpen();
    const link = this.#links.get(hash);
    return link === undefined ? null : copyLink(link);
  }

  // Replay protection

  async rememberNonce(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#assertOpen();
    const existing = this.#nonces.get(key);
    if (existing !== undefined && existing > now) return false;
    this.#nonces.set(key, expiresAt);
    return true;
  }

  // Throttling

  async recordFailure(key: string, now: number, forgetAfterMs: number): Promise<FailureCount> {
    this.#assertOpen();
    return this.#failures.record(key, now, forgetAfterMs);
  }

  async readFailures(key: string, now: number, forgetAfterMs: number): Promise<FailureCount | null> {
    this.#assertOpen();
    return this.#failures.read(key, now, forgetAfterMs);
  }

  async clearFailures(key: string): Promise<void> {
    this.#assertOpen();
    this.#failures.clear(key);
  }

  // Security log

  async appendSecurityEvent(event: SecurityEventRecord): Promise<void> {
    this.#assertOpen();
    this.#securityLog.append(event);
  }

  async listSecurityEvents(query: SecurityEventQuery): Promise<SecurityEventRecord[]> {
    this.#assertOpen();
    return this.#securityLog.list(query);
  }

  async pruneSecurityEvents(before: number, limit: number): Promise<number> {
    this.#assertOpen();
    return this.#securityLog.prune(before, limit);
  }

  // Webhook queue

  async enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    this.#assertOpen();
    this.#webhooks.enqueue(deliveries);
  }

  async claimWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    this.#assertOpen();
    return this.#webhooks.claim(now, limit, leaseMs);
  }

  async completeWebhook(id: string): Promise<void> {
    this.#assertOpen();
    this.#webhooks.complete(id);
  }

  async retryWebhook(id: string, nextAttemptAt: number): Promise<void> {
    this.#assertOpen();
    this.#webhooks.retry(id, nextAttemptAt);
  }

  // Signing keys

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    this.#assertOpen();
    return [...this.#signingKeys.values()]
      .sort((a, b) => a.createdAt - b.createdAt || compareStrings(a.kid, b.kid))
      .map((key) => ({ ...key }));
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    this.#assertOpen();
    if (key.retiredAt === null) {
      for (const other of this.#signingKeys.values()) {
        if (other.kid !== key.kid && other.retiredAt === null) {
          this.#signingKeys.set(other.kid, { ...other, retiredAt: key.createdAt });
        }
      }
    }
    this.#signingKeys.set(key.kid, { ...key });
    this.#feed.emit([{ kind: "keys_changed" }]);
  }

  async deleteSigningKey(kid: string): Promise<void> {
    this.#assertOpen();
    if (this.#signingKeys.delete(kid)) this.#feed.emit([{ kind: "keys_changed" }]);
  }

  // Maintenance

  async purgeExpired(now: number): Promise<number> {
    this.#assertOpen();
    const cutoff = now - RETENTION_MS;
    let removed = 0;
    for (const session of [...this.#sessions.values()]) {
      if (session.expiresAt <= cutoff || (session.revokedAt !== null && session.revokedAt <= cutoff)) {
        removed += this.#deleteSession(session);
      }
    }
    for (const token of [...this.#refreshTokens.values()]) {
      if (token.expiresAt <= now) {
        this.#deleteRefreshToken(token);
        removed += 1;
      }
    }
    removed += deleteWhere(this.#links, (link) => link.expiresAt <= cutoff);
    removed += deleteWhere(this.#nonces, (expiresAt) => expiresAt <= now);
    removed += deleteWhere(this.#denylist, (expiresAt) => expiresAt <= now);
    removed += this.#failures.purge(cutoff);
    return removed;
  }

  async ping(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  // Internals

  #assertOpen(): void {
    if (this.#closed) throw new Error("store is closed");
  }

  #copyUser(id: number): UserRecord | null {
    const user = this.#users.get(id);
    return user === undefined ? null : { ...user };
  }

  /** Throws, before anything changes, when `input` cannot be inserted. */
  #assertCreatable(input: CreateSessionInput): void {
    if (!this.#users.has(input.session.userId)) throw new Error("createSession: unknown user");
    if (this.#sessions.has(input.session.id)) throw new Error("createSession: session id already exists");
    this.#assertNewRefreshToken(input.refreshToken.hash);
  }

  /** Inserts a checked session, replacing the live sessions of its device. */
  #insertSession(
    input: CreateSessionInput,
    events: StoreEvent[],
  ): { session: SessionRecord; replaced: string[] } {
    const { session, refreshToken } = input;
    const replaced: string[] = [];
    if (session.deviceId !== null) {
      for (const other of this.#sessionsOfUser(session.userId)) {
        if (other.deviceId === session.deviceId && isLive(other, session.createdAt)) {
          // The old session's JWTs can live no longer than the session itself.
          this.#revoke(other, "device_replaced", session.createdAt, other.expiresAt, events);
          replaced.push(other.id);
        }
      }
    }
    const record = copySession({
      ...session,
      expiresAt: Math.min(session.expiresAt, session.maxExpiresAt),
      revokedAt: null,
      revokedReason: null,
    });
    this.#putSession(record);
    this.#putRefreshToken({
      ...refreshToken,
      expiresAt: Math.min(refreshToken.expiresAt, session.maxExpiresAt),
      spentAt: null,
      successorHash: null,
      sealedSuccessor: null,
    });
    return { session: copySession(record), replaced };
  }

  /** Revokes every session of the user live at `now`, but `keepSessionId`. */
  #revokeUser(
    userId: number,
    reason: string,
    now: number,
    denyUntil: number,
    keepSessionId: string | null,
    events: StoreEvent[],
  ): SessionRecord[] {
    return newestFirst(
      this.#sessionsOfUser(userId)
        .filter((session) => session.id !== keepSessionId && isLive(session, now))
        .map((session) => this.#revoke(session, reason, now, denyUntil, events)),
    );
  }

  #sessionsOfUser(userId: number): SessionRecord[] {
    const ids = this.#sessionIdsByUser.get(userId) ?? new Set<string>();
    return [...ids].flatMap((id) => this.#sessions.get(id) ?? []);
  }

  /** Stores a new version of a session and keeps the lookup maps in step with it. */
  #putSession(session: SessionRecord): void {
    const previous = this.#sessions.get(session.id);
    if (previous?.sessionTokenHash != null) this.#sessionIdsByTokenHash.delete(previous.sessionTokenHash);
    if (session.sessionTokenHash !== null)
      this.#sessionIdsByTokenHash.set(session.sessionTokenHash, session.id);
    this.#sessions.set(session.id, session);
    let ids = this.#sessionIdsByUser.get(session.userId);
    if (ids === undefined) {
      ids = new Set();
      this.#sessionIdsByUser.set(session.userId, ids);
    }
    ids.add(session.id);
  }

  /** Called before any change, so that a clash leaves the store as it was (as a rolled-back transaction would). */
  #assertNewRefreshToken(hash: string): void {
    if (this.#refreshTokens.has(hash)) throw new Error("refresh token already exists");
  }

  /** Marks every unspent refresh token of the session spent, without successor (superseded). */
  #spendUnspentRefreshTokens(sessionId: string, now: number): void {
    for (const hash of this.#refreshHashesBySession.get(sessionId) ?? []) {
      const token = this.#refreshTokens.get(hash);
      if (token !== undefined && token.spentAt === null) {
        this.#refreshTokens.set(hash, { ...token, spentAt: now, successorHash: null, sealedSuccessor: null });
      }
    }
  }

  #putRefreshToken(token: StoredRefreshToken): void {
    this.#refreshTokens.set(token.hash, token);
    let hashes = this.#refreshHashesBySession.get(token.sessionId);
    if (hashes === undefined) {
      hashes = new Set();
      this.#refreshHashesBySession.set(token.sessionId, hashes);
    }
    hashes.add(token.hash);
  }

  /** Revokes one session, denylists its `sid` and queues the events that tell everyone. */
  #revoke(
    session: SessionRecord,
    reason: string,
    at: number,
    denyUntil: number,
    events: StoreEvent[],
  ): SessionRecord {
    const revoked: SessionRecord = { ...session, revokedAt: at, revokedReason: reason };
    this.#putSession(revoked);
    const entry = this.#deny({ id: `sid:${session.id}`, expiresAt: denyUntil });
    events.push(
      { kind: "session_revoked", sessionId: session.id, userId: session.userId, reason },
      { kind: "denied", entry },
    );
    return revoked;
  }

  /** Adds a denylist entry and returns it as stored. */
  #deny(entry: DenylistEntry): DenylistEntry {
    // An entry only ever grows: a shorter second denial must not reopen the window.
    const expiresAt = Math.max(this.#denylist.get(entry.id) ?? Number.NEGATIVE_INFINITY, entry.expiresAt);
    this.#denylist.set(entry.id, expiresAt);
    return { id: entry.id, expiresAt };
  }

  /** Deletes a session and its refresh tokens; returns how many records went. */
  #deleteSession(session: SessionRecord): number {
    let removed = 1;
    for (const hash of this.#refreshHashesBySession.get(session.id) ?? []) {
      const token = this.#refreshTokens.get(hash);
      if (token !== undefined) {
        this.#deleteRefreshToken(token);
        removed += 1;
      }
    }
    this.#refreshHashesBySession.delete(session.id);
    this.#sessions.delete(session.id);
    this.#sessionIdsByUser.get(session.userId)?.delete(session.id);
    if (session.sessionTokenHash !== null) this.#sessionIdsByTokenHash.delete(session.sessionTokenHash);
    return removed;
  }

  #deleteRefreshToken(token: StoredRefreshToken): void {
    this.#refreshTokens.delete(token.hash);
    this.#refreshHashesBySession.get(token.sessionId)?.delete(token.hash);
  }
}

function newestFirst(sessions: readonly SessionRecord[]): SessionRecord[] {
  return [...sessions]
    .sort((a, b) => b.createdAt - a.createdAt || compareStrings(a.id, b.id))
    .map(copySession);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function deleteWhere<K, V>(map: Map<K, V>, expired: (value: V) => boolean): number {
  let removed = 0;
  for (const [key, value] of map) {
    if (expired(value)) {
      map.delete(key);
      removed += 1;
    }
  }
  return removed;
}
