/**
 * A `SessionStore` in one SQLite file, through better-sqlite3: the default for a single
 * server, and safe for several processes sharing the file (a server and the management
 * CLI). The file runs in WAL mode so readers never wait for the writer; every operation
 * where a read decides a write runs in an IMMEDIATE transaction, which takes the write
 * lock up front, so another process cannot slip in between the read and the write.
 *
 * A write that finds the file locked by another process waits for it without blocking the
 * event loop, and fails (the engine answers `unavailable`) past `lockTimeoutMs`; see
 * `sqlite-writer.ts`. WAL's automatic checkpoints are PASSIVE: they copy what they can
 * without waiting for any lock, so they never stall a commit behind another process.
 *
 * Events reach other processes through the `events` table, written in the transaction of
 * the change it reports (see `sqlite-event-feed.ts`).
 */

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { eventToRow } from "../event-rows.js";
import { identityFromRow, identityKeyOf, identityToRow } from "../identities.js";
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
import { migrate } from "./migrations.js";
import { SqliteEventFeed } from "./sqlite-event-feed.js";
import {
  keyFromRow,
  linkFromRow,
  linkToRow,
  securityEventFromRow,
  securityEventToRow,
  sessionFromRow,
  sessionToRow,
  userFromRow,
  webhookFromRow,
} from "./sqlite-rows.js";
import { prepareStatements, type Statements } from "./sqlite-statements.js";
import { SqliteWriter } from "./sqlite-writer.js";

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. */
  readonly path: string;
  /**
   * How often to look for events written by other processes, in milliseconds.
   * @default 50
   */
  readonly pollIntervalMs?: number;
  /**
   * Opens an existing, migrated database read-only (inspection; and the tests of what a
   * server does when its database cannot be written). Every write fails. @default false
   */
  readonly readOnly?: boolean;
  /**
   * How long a write may wait, without blocking the process, while another process holds
   * the write lock; then it rejects (the engine answers `unavailable`). Opening waits for
   * the lock up to this long too, synchronously (nothing is being served yet). @default 5000
   */
  readonly lockTimeoutMs?: number;
  /** The clock the lock wait is measured on (milliseconds since the epoch). @default Date.now */
  readonly now?: () => number;
  /** Called each time a write finds the file locked by another connection, before it waits. */
  readonly onLockWait?: () => void;
}

/** Events are only needed until every process has polled them; an hour is ample. */
const EVENT_RETENTION_MS = 60 * 60 * 1000;

/** Collects the events of one transaction, to be emitted only once it has committed. */
interface PendingEvents {
  readonly seqs: number[];
  readonly events: StoreEvent[];
}

export class SqliteStore implements SessionStore {
  readonly name: string;
  readonly events: StoreEventFeed;
  readonly #db: Database.Database;
  readonly #stmt: Statements;
  readonly #transaction: Database.Transaction<(work: () => void) => void>;
  readonly #writer: SqliteWriter;
  readonly #feed: SqliteEventFeed;
  #closed = false;

  /** Opens (creating and migrating if needed) the database; throws a clear error if it cannot. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const pollIntervalMs = options.pollIntervalMs ?? 50;
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0) {
      throw new TypeError("pollIntervalMs must be a positive number");
    }
    const lockTimeoutMs = options.lockTimeoutMs ?? 5000;
    if (!Number.isFinite(lockTimeoutMs) || lockTimeoutMs < 0) {
      throw new TypeError("lockTimeoutMs must be a number of milliseconds, 0 or more");
    }
    let db: Database.Database | undefined;
    try {
      if (options.path !== ":memory:") mkdirSync(dirname(resolve(options.path)), { recursive: true });
      const readOnly = options.readOnly ?? false;
      db = new Database(options.path, readOnly ? { readonly: true, fileMustExist: true } : {});
      // While opening, the driver waits for another process's lock (switching a new file to
      // WAL, migrating): synchronous, but nothing is being served yet.
      db.pragma(`busy_timeout = ${Math.ceil(lockTimeoutMs)}`);
      if (!readOnly) db.pragma("journal_mode = WAL");
      db.pragma("foreign_keys = ON");
      if (!readOnly) migrate(db);
      // From here on a locked write fails at once and the writer queue waits, on a timer.
      db.pragma("busy_timeout = 0");
      const writer = new SqliteWriter({
        lockTimeoutMs,
        now: options.now ?? Date.now,
        onLockWait: options.onLockWait,
      });
      return new SqliteStore(db, options.path, pollIntervalMs, writer);
    } catch (error) {
      db?.close();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot open SQLite database at ${options.path}: ${reason}`, { cause: error });
    }
  }

  private constructor(db: Database.Database, path: string, pollIntervalMs: number, writer: SqliteWriter) {
    this.name = `sqlite:${path}`;
    this.#db = db;
    this.#writer = writer;
    this.#stmt = prepareStatements(db);
    this.#transaction = db.transaction((work: () => void) => work());
    this.#feed = new SqliteEventFeed(this.#stmt, pollIntervalMs);
    this.events = this.#feed;
  }

  // Users

  async createUser(user: NewUser): Promise<UserRecord | null> {
    this.#assertOpen();
    const inserted = await this.#writeOne(() => this.#stmt.insertUser.get(user));
    return inserted === undefined ? null : { ...user, id: inserted.id, disabledAt: null };
  }

  async findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null> {
    this.#assertOpen();
    return optional(this.#stmt.userByKey.get(usernameKey), userFromRow);
  }

  async findUserById(id: number): Promise<UserRecord | null> {
    this.#assertOpen();
    return optional(this.#stmt.userById.get(id), userFromRow);
  }

  async listUsers(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<UserRecord[]> {
    this.#assertOpen();
    return this.#stmt.listUsers.all(options.limit ?? -1, options.offset ?? 0).map(userFromRow);
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<boolean> {
    this.#assertOpen();
    return this.#write((pending) => {
      if (this.#stmt.setPasswordHash.run(passwordHash, userId).changes === 0) return false;
      this.#record({ kind: "user_updated", userId }, pending);
      return true;
    });
  }

  async disableUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    return this.#write((pending) => {
      if (this.#stmt.disableUser.run(now, userId).changes === 0) return null;
      const revoked = this.#revokeUser(userId, "user_disabled", now, denyUntil, null, pending);
      this.#record({ kind: "user_updated", userId }, pending);
      return revoked;
    });
  }

  async enableUser(userId: number): Promise<boolean> {
    this.#assertOpen();
    return this.#write((pending) => {
      if (this.#stmt.enableUser.run(userId).changes === 0) return false;
      this.#record({ kind: "user_updated", userId }, pending);
      return true;
    });
  }

  async deleteUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    return this.#write((pending) => {
      const user = this.#stmt.userById.get(userId);
      if (user === undefined) return null;
      const revoked = this.#revokeUser(userId, "user_deleted", now, denyUntil, null, pending);
      // Tombstones keep answering token_revoked, but nothing of what the user stored.
      this.#stmt.clearUserSessionData.run(userId);
      this.#stmt.deleteUserLinks.run(userId);
      this.#stmt.clearFailures.run(`u:${user.username_key}`);
      this.#stmt.deleteUser.run(userId);
      this.#record({ kind: "user_updated", userId }, pending);
      return revoked.map((session) => ({ ...session, data: null }));
    });
  }

  // Provider identities (a deleted user's go with the row: ON DELETE CASCADE)

  async createUserWithIdentity(user: NewUser, identity: IdentityKey): Promise<UserRecord | null> {
    this.#assertOpen();
    return this.#write(() => {
      if (this.#stmt.identityByKey.get(identity.provider, identity.issuer, identity.subject) !== undefined) {
        return null;
      }
      const inserted = this.#stmt.insertUser.get(user);
      if (inserted === undefined) return null;
      this.#stmt.insertIdentity.get(
        identityToRow({ ...identityKeyOf(identity), userId: inserted.id, createdAt: user.createdAt }),
      );
      return { ...user, id: inserted.id, disabledAt: null };
    });
  }

  async linkIdentity(identity: IdentityRecord): Promise<LinkIdentityOutcome> {
    this.#assertOpen();
    return this.#write((): LinkIdentityOutcome => {
      if (this.#stmt.userById.get(identity.userId) === undefined) return { kind: "no_user" };
      if (this.#stmt.insertIdentity.get(identityToRow(identity)) !== undefined) {
        return {
          kind: "linked",
          identity: { ...identityKeyOf(identity), userId: identity.userId, createdAt: identity.createdAt },
        };
      }
      const existing = this.#stmt.identityByKey.get(identity.provider, identity.issuer, identity.subject);
      if (existing === undefined) throw new Error("linkIdentity: the conflicting identity vanished");
      return { kind: "taken", identity: identityFromRow(existing) };
    });
  }

  async findIdentity(key: IdentityKey): Promise<IdentityRecord | null> {
    this.#assertOpen();
    return optional(this.#stmt.identityByKey.get(key.provider, key.issuer, key.subject), identityFromRow);
  }

  async listIdentities(userId: number): Promise<IdentityRecord[]> {
    this.#assertOpen();
    return this.#stmt.identitiesOfUser.all(userId).map(identityFromRow);
  }

  async unlinkIdentity(key: IdentityKey): Promise<boolean> {
    this.#assertOpen();
    return this.#writeOne(
      () => this.#stmt.deleteIdentity.run(key.provider, key.issuer, key.subject).changes > 0,
    );
  }

  // Sessions

  async createSession(input: CreateSessionInput): Promise<{ session: SessionRecord; replaced: string[] }> {
    this.#assertOpen();
    return this.#write((pending) => this.#insertSession(input, pending));
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    return optional(this.#stmt.sessionById.get(id), sessionFromRow);
  }

  async findSessionByTokenHash(hash: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    return optional(this.#stmt.sessionByTokenHash.get(hash), sessionFromRow);
  }

  async listSessions(userId: number, now: number): Promise<SessionRecord[]> {
    this.#assertOpen();
    return this.#stmt.liveSessionsOfUser.all(userId, now).map(sessionFromRow);
  }

  async listAllSessions(now: number, options: { readonly limit?: number } = {}): Promise<SessionRecord[]> {
    this.#assertOpen();
    return this.#stmt.liveSessions.all(now, options.limit ?? -1).map(sessionFromRow);
  }

  async upgradeSession(input: UpgradeSessionInput): Promise<UpgradeOutcome> {
    this.#assertOpen();
    return this.#write((pending): UpgradeOutcome => {
      const jtiId = `jti:${input.jti}`;
      if (this.#stmt.denied.get(jtiId) !== undefined) return { kind: "jti_used" };
      const row = this.#stmt.sessionById.get(input.sessionId);
      if (row === undefined || row.revoked_at !== null || row.expires_at <= input.now)
        return { kind: "not_live" };
      if (row.token_type === "session") return { kind: "already_upgraded" };

      this.#deny(jtiId, input.jtiExpiresAt, pending);
      this.#stmt.upgradeSession.run(input.sessionTokenHash, row.id);
      if (input.metadata !== undefined) {
        this.#stmt.setSessionMetadata.run(input.metadata.userAgent, input.metadata.ipAddress, row.id);
      }
      // The JWT-era refresh tokens are superseded, not rotated: no successor to hand back.
      this.#stmt.spendSessionRefreshTokens.run(input.now, row.id);
      this.#stmt.insertRefreshToken.run(input.refreshToken);
      this.#record({ kind: "session_updated", sessionId: row.id }, pending);
      return { kind: "upgraded", session: this.#sessionNow(row.id) };
    });
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateOutcome> {
    this.#assertOpen();
    return this.#write((pending): RotateOutcome => {
      const token = this.#stmt.refreshToken.get(input.oldHash);
      const row = token === undefined ? undefined : this.#stmt.sessionById.get(token.session_id);
      if (token === undefined || row === undefined) return { kind: "not_found" };
      if (input.sessionId != null && token.session_id !== input.sessionId) return { kind: "not_found" };
      const session = sessionFromRow(row);
      if (session.revokedAt !== null) return { kind: "revoked", session };
      // Spent before expired: a replay must be recognised as one however late it comes.
      if (token.spent_at !== null) {
        const successor =
          token.successor_hash === null ? undefined : this.#stmt.refreshToken.get(token.successor_hash);
        return {
          kind: "spent",
          session,
          token: {
            hash: token.hash,
            sessionId: token.session_id,
            spentAt: token.spent_at,
            sealedSuccessor: token.sealed_successor,
            successorSpent: successor !== undefined && successor.spent_at !== null,
          },
        };
      }
      if (token.expires_at <= input.now || session.expiresAt <= input.now)
        return { kind: "expired", session };

      this.#stmt.spendRefreshToken.run(input.now, input.successor.hash, input.sealedSuccessor, token.hash);
      this.#stmt.insertRefreshToken.run({
        ...input.successor,
        expiresAt: Math.min(input.successor.expiresAt, session.maxExpiresAt),
        sessionId: session.id,
      });
      // Only an upgraded session has a session token; a jwt session keeps null.
      const tokenHash = session.tokenType === "session" ? input.sessionTokenHash : null;
      this.#stmt.extendSession.run(input.expiresAt, tokenHash, session.id);
      this.#record({ kind: "session_updated", sessionId: session.id }, pending);
      return { kind: "rotated", session: this.#sessionNow(session.id) };
    });
  }

  async reissueSession(input: ReissueSessionInput): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#write((pending): SessionRecord | null => {
      const row = this.#stmt.sessionById.get(input.sessionId);
      if (row === undefined || row.revoked_at !== null || row.expires_at <= input.now) return null;
      this.#stmt.spendSessionRefreshTokens.run(input.now, row.id);
      this.#stmt.insertRefreshToken.run({
        ...input.refreshToken,
        expiresAt: Math.min(input.refreshToken.expiresAt, row.max_expires_at),
        sessionId: row.id,
      });
      const tokenHash = row.token_type === "session" ? input.sessionTokenHash : null;
      this.#stmt.extendSession.run(input.expiresAt, tokenHash, row.id);
      this.#record({ kind: "session_updated", sessionId: row.id }, pending);
      return this.#sessionNow(row.id);
    });
  }

  async updateSessionData(sessionId: string, data: JsonValue, now: number): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#write((pending) => {
      if (this.#stmt.updateSessionData.run(JSON.stringify(data), sessionId, now).changes === 0) return null;
      this.#record({ kind: "session_updated", sessionId }, pending);
      return this.#sessionNow(sessionId);
    });
  }

  async markAuthenticated(
    sessionId: string,
    at: number,
    methods: readonly string[],
    now: number,
  ): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#write((pending) => {
      const changed = this.#stmt.markAuthenticated.run(at, JSON.stringify(methods), sessionId, now).changes;
      if (changed === 0) return null;
      this.#record({ kind: "session_updated", sessionId }, pending);
      return this.#sessionNow(sessionId);
    });
  }

  async touchSession(sessionId: string, at: number): Promise<void> {
    this.#assertOpen();
    await this.#writeOne(() => this.#stmt.touchSession.run(at, sessionId, at));
  }

  async revokeSessions(
    sessionIds: readonly string[],
    reason: string,
    now: number,
    denyUntil: number,
  ): Promise<SessionRecord[]> {
    this.#assertOpen();
    return this.#write((pending) => {
      const revoked: SessionRecord[] = [];
      for (const id of new Set(sessionIds)) {
        const row = this.#stmt.sessionById.get(id);
        if (row !== undefined && row.revoked_at === null) {
          revoked.push(this.#revoke(sessionFromRow(row), reason, now, denyUntil, pending));
        }
      }
      return revoked;
    });
  }

  async revokeUserSessions(input: RevokeUserSessionsInput): Promise<SessionRecord[]> {
    this.#assertOpen();
    // One IMMEDIATE transaction: a concurrent createSession commits wholly before or after it.
    return this.#write((pending) =>
      this.#revokeUser(
        input.userId,
        input.reason,
        input.now,
        input.denyUntil,
        input.keepSessionId ?? null,
        pending,
      ),
    );
  }

  // Access JWT denylist

  async listDenylist(now: number): Promise<DenylistEntry[]> {
    this.#assertOpen();
    return this.#stmt.liveDenylist.all(now).map((row) => ({ id: row.id, expiresAt: row.expires_at }));
  }

  // Single-use links

  async createLink(link: NewLink): Promise<void> {
    this.#assertOpen();
    const row = linkToRow({ ...link, consumedAt: null });
    await this.#writeOne(() => this.#stmt.insertLink.run(row));
  }

  async redeemLink(input: RedeemLinkInput): Promise<RedeemLinkOutcome> {
    this.#assertOpen();
    const { hash, now } = input;
    // Consuming and creating commit together or not at all: a crash cannot leave a used
    // link without its session.
    return this.#write((pending): RedeemLinkOutcome => {
      // The conditional update is the decision; the read after it only explains a refusal.
      const consumed = this.#stmt.consumeLink.run(now, hash, now).changes === 1;
      const row = this.#stmt.link.get(hash);
      if (row === undefined) return { kind: "not_found" };
      if (!consumed) return row.consumed_at !== null ? { kind: "used" } : { kind: "expired" };
      if (input.session.session.userId !== row.user_id) {
        throw new Error("redeemLink: the session is not the link's user's");
      }
      const { session, replaced } = this.#insertSession(input.session, pending);
      return { kind: "redeemed", link: linkFromRow(row), session, replaced };
    });
  }

  async peekLink(hash: string): Promise<LinkRecord | null> {
    this.#assertOpen();
    return optional(this.#stmt.link.get(hash), linkFromRow);
  }

  // Replay protection

  async rememberNonce(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#assertOpen();
    return (await this.#writeOne(() => this.#stmt.rememberNonce.run(key, expiresAt, now))).changes === 1;
  }

  // Throttling

  async recordFailure(key: string, now: number, forgetAfterMs: number): Promise<FailureCount> {
    this.#assertOpen();
    const row = await this.#writeOne(() => this.#stmt.recordFailure.get({ key, now, forgetAfterMs }));
    if (row === undefined) throw new Error("recordFailure: the upsert returned no row");
    return { failures: row.failures, lastFailureAt: row.last_failure_at };
  }

  async readFailures(key: string, now: number, forgetAfterMs: number): Promise<FailureCount | null> {
    this.#assertOpen();
    const row = this.#stmt.failures.get(key);
    if (row === undefined || now - row.last_failure_at > forgetAfterMs) return null;
    return { failures: row.failures, lastFailureAt: row.last_failure_at };
  }

  async clearFailures(key: string): Promise<void> {
    this.#assertOpen();
    await this.#writeOne(() => this.#stmt.clearFailures.run(key));
  }

  // Security log

  async appendSecurityEvent(event: SecurityEventRecord): Promise<void> {
    this.#assertOpen();
    const row = securityEventToRow(event);
    await this.#writeOne(() => this.#stmt.insertSecurityEvent.run(row));
  }

  async listSecurityEvents(query: SecurityEventQuery): Promise<SecurityEventRecord[]> {
    this.#assertOpen();
    const rows = this.#stmt.securityEvents.all({
      userId: query.userId ?? null,
      kinds: query.kinds === undefined ? null : JSON.stringify(query.kinds),
      since: query.since ?? null,
      until: query.until ?? null,
      beforeId: query.beforeId ?? null,
      limit: Math.max(0, query.limit),
    });
    return rows.map(securityEventFromRow);
  }

  async pruneSecurityEvents(before: number, limit: number): Promise<number> {
    this.#assertOpen();
    return (await this.#writeOne(() => this.#stmt.pruneSecurityEvents.run(before, Math.max(0, limit))))
      .changes;
  }

  // Webhook queue

  async enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    this.#assertOpen();
    await this.#write(() => {
      for (const delivery of deliveries) this.#stmt.enqueueWebhook.run(delivery);
    });
  }

  async claimWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    this.#assertOpen();
    // One UPDATE … RETURNING under the write lock: no two claimers get the same row.
    const rows = await this.#writeOne(() =>
      this.#stmt.claimWebhooks.all({ now, limit: Math.max(0, limit), leaseMs }),
    );
    return rows
      .map(webhookFromRow)
      .sort(
        (a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1),
      );
  }

  async completeWebhook(id: string): Promise<void> {
    this.#assertOpen();
    await this.#writeOne(() => this.#stmt.completeWebhook.run(id));
  }

  async retryWebhook(id: string, nextAttemptAt: number): Promise<void> {
    this.#assertOpen();
    await this.#writeOne(() => this.#stmt.retryWebhook.run(nextAttemptAt, id));
  }

  // Signing keys

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    this.#assertOpen();
    return this.#stmt.signingKeys.all().map(keyFromRow);
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    this.#assertOpen();
    await this.#write((pending) => {
      this.#stmt.saveSigningKey.run(key);
      if (key.retiredAt === null) this.#stmt.retireOtherKeys.run(key.createdAt, key.kid);
      this.#record({ kind: "keys_changed" }, pending);
    });
  }

  async deleteSigningKey(kid: string): Promise<void> {
    this.#assertOpen();
    await this.#write((pending) => {
      if (this.#stmt.deleteSigningKey.run(kid).changes > 0) this.#record({ kind: "keys_changed" }, pending);
    });
  }

  // Maintenance

  async purgeExpired(now: number): Promise<number> {
    this.#assertOpen();
    const cutoff = now - RETENTION_MS;
    return this.#write(() => {
      const s = this.#stmt;
      // Event rows are bookkeeping of this store, not data, so they are not counted.
      s.purgeEvents.run(now - EVENT_RETENTION_MS);
      return (
        s.purgeRefreshTokens.run(now, cutoff, cutoff).changes +
        s.purgeSessions.run(cutoff, cutoff).changes +
        s.purgeLinks.run(cutoff).changes +
        s.purgeNonces.run(now).changes +
        s.purgeDenylist.run(now).changes +
        s.purgeFailures.run(cutoff).changes
      );
    });
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    this.#stmt.ping.get();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close();
    this.#feed.stop();
    this.#db.close();
  }

  // Internals

  #assertOpen(): void {
    if (this.#closed) throw new Error("store is closed");
  }

  /**
   * Runs `work` in an IMMEDIATE transaction, once this process's earlier writes are done and
   * the write lock is free, and then emits the events it recorded. A transaction that throws
   * rolls back and emits nothing; one that found the file locked runs again from the start.
   */
  #write<T>(work: (pending: PendingEvents) => T): Promise<T> {
    return this.#writer.run(() => {
      // Collected per attempt: an attempt that rolled back has nothing to emit.
      const pending: PendingEvents = { seqs: [], events: [] };
      let result: T | undefined;
      this.#transaction.immediate(() => {
        result = work(pending);
      });
      this.#feed.emitCommitted(pending.seqs, pending.events);
      return result as T;
    });
  }

  /** One statement that writes (its own transaction), queued and retried as `#write` is. */
  #writeOne<T>(statement: () => T): Promise<T> {
    return this.#writer.run(statement);
  }

  #record(event: StoreEvent, pending: PendingEvents): void {
    const row = eventToRow(event);
    const { lastInsertRowid } = this.#stmt.insertEvent.run(Date.now(), row.kind, row.payload);
    pending.seqs.push(Number(lastInsertRowid));
    pending.events.push(event);
  }

  #deny(id: string, expiresAt: number, pending: PendingEvents): void {
    // The upsert keeps the later expiry: a shorter second denial must not reopen the window.
    const stored = this.#stmt.deny.get(id, expiresAt);
    this.#record({ kind: "denied", entry: { id, expiresAt: stored?.expires_at ?? expiresAt } }, pending);
  }

  /** Revokes one session (inside a transaction) and denylists its `sid`. */
  #revoke(
    session: SessionRecord,
    reason: string,
    at: number,
    denyUntil: number,
    pending: PendingEvents,
  ): SessionRecord {
    this.#stmt.revokeSession.run(at, reason, session.id);
    this.#record({ kind: "session_revoked", sessionId: session.id, userId: session.userId, reason }, pending);
    this.#deny(`sid:${session.id}`, denyUntil, pending);
    return { ...session, revokedAt: at, revokedReason: reason };
  }

  /** Inserts a session (inside a transaction), replacing the live sessions of its device. */
  #insertSession(
    input: CreateSessionInput,
    pending: PendingEvents,
  ): { session: SessionRecord; replaced: string[] } {
    const { session, refreshToken } = input;
    // No foreign key to users (tombstones outlive deleted users), so the check is here.
    if (this.#stmt.userById.get(session.userId) === undefined) throw new Error("createSession: unknown user");
    const replaced: string[] = [];
    if (session.deviceId !== null) {
      for (const other of this.#stmt.liveSessionsOfDevice.all(
        session.userId,
        session.deviceId,
        session.createdAt,
      )) {
        // The old session's JWTs can live no longer than the session itself.
        this.#revoke(sessionFromRow(other), "device_replaced", session.createdAt, other.expires_at, pending);
        replaced.push(other.id);
      }
    }
    const record: SessionRecord = {
      ...session,
      expiresAt: Math.min(session.expiresAt, session.maxExpiresAt),
      revokedAt: null,
      revokedReason: null,
    };
    this.#stmt.insertSession.run(sessionToRow(record));
    this.#stmt.insertRefreshToken.run({
      ...refreshToken,
      expiresAt: Math.min(refreshToken.expiresAt, session.maxExpiresAt),
    });
    return { session: record, replaced };
  }

  /** Revokes (inside a transaction) every session of the user live at `now`, but `keepSessionId`. */
  #revokeUser(
    userId: number,
    reason: string,
    now: number,
    denyUntil: number,
    keepSessionId: string | null,
    pending: PendingEvents,
  ): SessionRecord[] {
    return this.#stmt.liveSessionsOfUserBut
      .all(userId, now, keepSessionId)
      .map((row) => this.#revoke(sessionFromRow(row), reason, now, denyUntil, pending));
  }

  /** Reads back a session this transaction has just changed. */
  #sessionNow(id: string): SessionRecord {
    const row = this.#stmt.sessionById.get(id);
    if (row === undefined) throw new Error("session vanished inside its own transaction");
    return sessionFromRow(row);
  }
}

function optional<R, T>(row: R | undefined, map: (row: R) => T): T | null {
  return row === undefined ? null : map(row);
}
