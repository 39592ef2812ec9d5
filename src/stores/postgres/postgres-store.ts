/**
 * A `SessionStore` on PostgreSQL through `pg` 8: the store for several `tessera serve`
 * nodes sharing one database.
 *
 * Concurrency: READ COMMITTED with row locks, not SERIALIZABLE. Every operation where a read
 * decides a write locks the rows it decides on first (`SELECT … FOR UPDATE`, or the
 * conditional `UPDATE … WHERE <state> … RETURNING` that is itself the decision, as for
 * spending a refresh token and consuming a link), so a concurrent writer waits and then sees
 * the committed state. Per-user decisions (device replacement, revoke-all against a login,
 * disabling and deleting) lock the user's row, which serialises them per user without
 * blocking anyone else. SERIALIZABLE would give the same answers but turn every contended
 * race into an aborted transaction to retry, under exactly the races the conformance suite
 * runs; row locks make the loser wait a few ms instead. Deadlocks (possible between a link
 * redemption and the deletion of its user) are retried.
 *
 * Events: each transaction that invalidates something inserts its rows into `events` and
 * notifies the channel before it commits; `postgres-event-feed.ts` follows the table.
 */

import type pg from "pg";
import { eventToRow } from "../event-rows.js";
import { type IdentityRow, identityFromRow } from "../identities.js";
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
import type { ServerClock } from "./postgres-clock.js";
import { isRetryable, isServerError } from "./postgres-connection.js";
import { PostgresEventFeed } from "./postgres-event-feed.js";
import { openPostgres, type PostgresStoreOptions } from "./postgres-open.js";
import {
  type KeyRow,
  keyFromRow,
  type LinkRow,
  linkFromRow,
  linkParams,
  type RefreshTokenRow,
  type SecurityEventRow,
  type SessionRow,
  securityEventFromRow,
  securityEventParams,
  sessionFromRow,
  sessionParams,
  type UserRow,
  userFromRow,
  type WebhookRow,
  webhookFromRow,
} from "./postgres-rows.js";

export type { PostgresStoreOptions } from "./postgres-open.js";

/** Events are only needed until every node has read them; an hour is ample. */
const EVENT_RETENTION_MS = 60 * 60 * 1000;
/** Attempts of one transaction that hit a deadlock or serialization failure. */
const MAX_ATTEMPTS = 5;

type Db = pg.Pool | pg.PoolClient;

/** Collects the events of one transaction, to be emitted only once it has committed. */
interface PendingEvents {
  readonly events: StoreEvent[];
}

const INSERT_SESSION = `INSERT INTO sessions (id, user_id, device_id, device_slot, device_name, created_at,
    last_seen_at, expires_at, max_expires_at, authenticated_at, auth_methods, token_type, user_agent,
    ip_address, data, session_token_hash)
  VALUES ($1, $2, $3, $3, $4, $5, $6, least($7::bigint, $8::bigint), $8, $9, $10::json, $11, $12, $13,
    $14::json, $15)
  RETURNING *`;

const INSERT_REFRESH_TOKEN = `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
  VALUES ($1, $2, $3, least($4::bigint, $5::bigint))`;

const LIVE = "revoked_at IS NULL AND expires_at > $";

const INSERT_IDENTITY = `INSERT INTO identities (provider, issuer, subject, user_id, created_at)
  VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, issuer, subject) DO NOTHING RETURNING *`;
const IDENTITY_KEY = "provider = $1 AND issuer = $2 AND subject = $3";

export class PostgresStore implements SessionStore {
  readonly name: string;
  readonly events: StoreEventFeed;
  readonly clock: () => number;
  readonly #pool: pg.Pool;
  readonly #feed: PostgresEventFeed;
  readonly #channel: string;
  #closed = false;

  /**
   * Connects, checks the server, migrates the schema and starts following the event log.
   * Rejects with `StoreOpenError` (an operator-readable message, the URL without its
   * password) when the database is unreachable, too old, or its schema is newer than this code.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const opened = await openPostgres(options, (config, channel, leaseMs, clock) =>
      PostgresEventFeed.open({
        config,
        channel,
        leaseMs,
        onClockSample: (serverNow, sentAt, receivedAt) => clock.sample(serverNow, sentAt, receivedAt),
      }),
    );
    return new PostgresStore(opened.name, opened.pool, opened.feed, opened.channel, opened.clock);
  }

  private constructor(
    name: string,
    pool: pg.Pool,
    feed: PostgresEventFeed,
    channel: string,
    clock: ServerClock,
  ) {
    this.name = name;
    this.#pool = pool;
    this.#feed = feed;
    this.events = feed;
    this.#channel = channel;
    this.clock = clock.now;
  }

  // Users

  async createUser(user: NewUser): Promise<UserRecord | null> {
    this.#assertOpen();
    const inserted = await one<{ id: number }>(
      this.#pool,
      `INSERT INTO users (uuid, username, username_key, password_hash, created_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username_key) DO NOTHING RETURNING id`,
      [user.uuid, user.username, user.usernameKey, user.passwordHash, user.createdAt],
    );
    return inserted === null ? null : { ...user, id: inserted.id, disabledAt: null };
  }

  async findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null> {
    this.#assertOpen();
    return map(
      await one<UserRow>(this.#pool, "SELECT * FROM users WHERE username_key = $1", [usernameKey]),
      userFromRow,
    );
  }

  async findUserById(id: number): Promise<UserRecord | null> {
    this.#assertOpen();
    const statement = prepared("user_by_id", "SELECT * FROM users WHERE id = $1");
    return map(await one<UserRow>(this.#pool, statement, [id]), userFromRow);
  }

  async listUsers(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<UserRecord[]> {
    this.#assertOpen();
    const rows = await all<UserRow>(this.#pool, "SELECT * FROM users ORDER BY id LIMIT $1 OFFSET $2", [
      options.limit ?? null,
      options.offset ?? 0,
    ]);
    return rows.map(userFromRow);
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<boolean> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      const { rowCount } = await tx.query("UPDATE users SET password_hash = $1 WHERE id = $2", [
        passwordHash,
        userId,
      ]);
      if (rowCount === 0) return false;
      pending.events.push({ kind: "user_updated", userId });
      return true;
    });
  }

  async disableUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      // The update locks the user's row: a login running now commits before or after, whole.
      const { rowCount } = await tx.query(
        "UPDATE users SET disabled_at = coalesce(disabled_at, $1) WHERE id = $2",
        [now, userId],
      );
      if (rowCount === 0) return null;
      const revoked = await this.#revokeUser(tx, userId, "user_disabled", now, denyUntil, null, pending);
      pending.events.push({ kind: "user_updated", userId });
      return revoked;
    });
  }

  async enableUser(userId: number): Promise<boolean> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      const { rowCount } = await tx.query("UPDATE users SET disabled_at = NULL WHERE id = $1", [userId]);
      if (rowCount === 0) return false;
      pending.events.push({ kind: "user_updated", userId });
      return true;
    });
  }

  async deleteUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      const user = await one<UserRow>(tx, "SELECT * FROM users WHERE id = $1 FOR UPDATE", [userId]);
      if (user === null) return null;
      const revoked = await this.#revokeUser(tx, userId, "user_deleted", now, denyUntil, null, pending);
      // Tombstones keep answering token_revoked, but nothing of what the user stored.
      await tx.query("UPDATE sessions SET data = 'null'::json WHERE user_id = $1", [userId]);
      await tx.query("DELETE FROM links WHERE user_id = $1", [userId]);
      await tx.query("DELETE FROM failure_counters WHERE key = $1", [`u:${user.username_key}`]);
      await tx.query("DELETE FROM users WHERE id = $1", [userId]);
      pending.events.push({ kind: "user_updated", userId });
      return revoked.map((session) => ({ ...session, data: null }));
    });
  }

  // Provider identities (a deleted user's go with the row: ON DELETE CASCADE)

  async createUserWithIdentity(user: NewUser, identity: IdentityKey): Promise<UserRecord | null> {
    this.#assertOpen();
    return this.#write(async (tx) => {
      const inserted = await one<{ id: number }>(
        tx,
        `INSERT INTO users (uuid, username, username_key, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username_key) DO NOTHING RETURNING id`,
        [user.uuid, user.username, user.usernameKey, user.passwordHash, user.createdAt],
      );
      if (inserted === null) return null;
      const linked = await one<IdentityRow>(tx, INSERT_IDENTITY, [
        identity.provider,
        identity.issuer,
        identity.subject,
        inserted.id,
        user.createdAt,
      ]);
      if (linked !== null) return { ...user, id: inserted.id, disabledAt: null };
      // The identity was taken (perhaps by a racer that waited us out): take the user back.
      await tx.query("DELETE FROM users WHERE id = $1", [inserted.id]);
      return null;
    });
  }

  async linkIdentity(identity: IdentityRecord): Promise<LinkIdentityOutcome> {
    this.#assertOpen();
    return this.#write(async (tx): Promise<LinkIdentityOutcome> => {
      // The share lock makes a concurrent deleteUser wait until this link is in (and then take it along).
      const user = await one(tx, "SELECT id FROM users WHERE id = $1 FOR SHARE", [identity.userId]);
      if (user === null) return { kind: "no_user" };
      const values = [identity.provider, identity.issuer, identity.subject];
      const linked = await one<IdentityRow>(tx, INSERT_IDENTITY, [
        ...values,
        identity.userId,
        identity.createdAt,
      ]);
      if (linked !== null) return { kind: "linked", identity: identityFromRow(linked) };
      const existing = required(
        await one<IdentityRow>(tx, `SELECT * FROM identities WHERE ${IDENTITY_KEY}`, values),
      );
      return { kind: "taken", identity: identityFromRow(existing) };
    });
  }

  async findIdentity(key: IdentityKey): Promise<IdentityRecord | null> {
    this.#assertOpen();
    return map(
      await one<IdentityRow>(this.#pool, `SELECT * FROM identities WHERE ${IDENTITY_KEY}`, [
        key.provider,
        key.issuer,
        key.subject,
      ]),
      identityFromRow,
    );
  }

  async listIdentities(userId: number): Promise<IdentityRecord[]> {
    this.#assertOpen();
    const result = await this.#pool.query<IdentityRow>(
      "SELECT * FROM identities WHERE user_id = $1 ORDER BY created_at, provider, issuer, subject",
      [userId],
    );
    return result.rows.map(identityFromRow);
  }

  async unlinkIdentity(key: IdentityKey): Promise<boolean> {
    this.#assertOpen();
    return (
      (await count(this.#pool, `DELETE FROM identities WHERE ${IDENTITY_KEY}`, [
        key.provider,
        key.issuer,
        key.subject,
      ])) > 0
    );
  }

  // Sessions

  async createSession(input: CreateSessionInput): Promise<{ session: SessionRecord; replaced: string[] }> {
    this.#assertOpen();
    return this.#write((tx, pending) => this.#insertSession(tx, input, pending));
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    return map(
      await one<SessionRow>(this.#pool, prepared("session_by_id", "SELECT * FROM sessions WHERE id = $1"), [
        id,
      ]),
      sessionFromRow,
    );
  }

  async findSessionByTokenHash(hash: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    // Validation on a cache miss: the hottest read, prepared once per connection.
    const statement = prepared(
      "session_by_token_hash",
      "SELECT * FROM sessions WHERE session_token_hash = $1 LIMIT 1",
    );
    const row = await one<SessionRow>(this.#pool, statement, [hash]);
    return map(row, sessionFromRow);
  }

  async listSessions(userId: number, now: number): Promise<SessionRecord[]> {
    this.#assertOpen();
    const rows = await all<SessionRow>(
      this.#pool,
      `SELECT * FROM sessions WHERE user_id = $1 AND ${LIVE}2 ORDER BY created_at DESC, id`,
      [userId, now],
    );
    return rows.map(sessionFromRow);
  }

  async listAllSessions(now: number, options: { readonly limit?: number } = {}): Promise<SessionRecord[]> {
    this.#assertOpen();
    const rows = await all<SessionRow>(
      this.#pool,
      `SELECT * FROM sessions WHERE ${LIVE}1 ORDER BY created_at DESC, id LIMIT $2`,
      [now, options.limit ?? null],
    );
    return rows.map(sessionFromRow);
  }

  async upgradeSession(input: UpgradeSessionInput): Promise<UpgradeOutcome> {
    this.#assertOpen();
    return this.#write(async (tx, pending): Promise<UpgradeOutcome> => {
      // The session's lock first: a second upgrade of the same JWT waits here, then sees the jti.
      const row = await one<SessionRow>(tx, "SELECT * FROM sessions WHERE id = $1 FOR UPDATE", [
        input.sessionId,
      ]);
      const jtiId = `jti:${input.jti}`;
      if ((await one(tx, "SELECT 1 FROM denylist WHERE id = $1", [jtiId])) !== null)
        return { kind: "jti_used" };
      if (row === null || row.revoked_at !== null || row.expires_at <= input.now) return { kind: "not_live" };
      if (row.token_type === "session") return { kind: "already_upgraded" };

      await this.#deny(tx, [{ id: jtiId, expiresAt: input.jtiExpiresAt }], pending);
      const metadata = input.metadata;
      // The JWT-era refresh tokens are superseded, not rotated: no successor to hand back.
      await spendSessionTokens(tx, row.id, input.now);
      await tx.query(INSERT_REFRESH_TOKEN, [
        input.refreshToken.hash,
        row.id,
        input.refreshToken.createdAt,
        input.refreshToken.expiresAt,
        row.max_expires_at,
      ]);
      const updated = await one<SessionRow>(
        tx,
        `UPDATE sessions SET token_type = 'session', session_token_hash = $1,
           user_agent = CASE WHEN $2 THEN $3 ELSE user_agent END,
           ip_address = CASE WHEN $2 THEN $4 ELSE ip_address END
         WHERE id = $5 RETURNING *`,
        [
          input.sessionTokenHash,
          metadata !== undefined,
          metadata?.userAgent ?? null,
          metadata?.ipAddress ?? null,
          row.id,
        ],
      );
      pending.events.push({ kind: "session_updated", sessionId: row.id });
      return { kind: "upgraded", session: sessionFromRow(required(updated)) };
    });
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateOutcome> {
    this.#assertOpen();
    return this.#write(async (tx, pending): Promise<RotateOutcome> => {
      // Locks the session: every rotation, reissue and revocation of it runs one at a time.
      const row = await one<SessionRow>(
        tx,
        `SELECT s.* FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id
         WHERE t.hash = $1 FOR UPDATE OF s`,
        [input.oldHash],
      );
      if (row === null) return { kind: "not_found" };
      if (input.sessionId != null && row.id !== input.sessionId) return { kind: "not_found" };
      const session = sessionFromRow(row);
      if (session.revokedAt !== null) return { kind: "revoked", session };

      // The conditional update is the decision: only an unspent, unexpired token is spent.
      const spent =
        session.expiresAt > input.now &&
        (
          await tx.query(
            `UPDATE refresh_tokens SET spent_at = $1, successor_hash = $2, sealed_successor = $3
             WHERE hash = $4 AND spent_at IS NULL AND expires_at > $1`,
            [input.now, input.successor.hash, input.sealedSuccessor, input.oldHash],
          )
        ).rowCount === 1;
      if (!spent) {
        // Spent before expired: a replay must be recognised as one however late it comes.
        const token = await one<RefreshTokenRow & { successor_spent: boolean | null }>(
          tx,
          `SELECT t.*, (s.spent_at IS NOT NULL) AS successor_spent FROM refresh_tokens t
           LEFT JOIN refresh_tokens s ON s.hash = t.successor_hash WHERE t.hash = $1`,
          [input.oldHash],
        );
        if (token === null) return { kind: "not_found" };
        if (token.spent_at === null) return { kind: "expired", session };
        return {
          kind: "spent",
          session,
          token: {
            hash: token.hash,
            sessionId: token.session_id,
            spentAt: token.spent_at,
            sealedSuccessor: token.sealed_successor,
            successorSpent: token.successor_spent === true,
          },
        };
      }
      await tx.query(INSERT_REFRESH_TOKEN, [
        input.successor.hash,
        session.id,
        input.successor.createdAt,
        input.successor.expiresAt,
        session.maxExpiresAt,
      ]);
      // Only an upgraded session has a session token; a jwt session keeps null.
      const tokenHash = session.tokenType === "session" ? input.sessionTokenHash : null;
      const updated = await extendSession(tx, session.id, input.expiresAt, tokenHash);
      pending.events.push({ kind: "session_updated", sessionId: session.id });
      return { kind: "rotated", session: updated };
    });
  }

  async reissueSession(input: ReissueSessionInput): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      const row = await one<SessionRow>(tx, "SELECT * FROM sessions WHERE id = $1 FOR UPDATE", [
        input.sessionId,
      ]);
      if (row === null || row.revoked_at !== null || row.expires_at <= input.now) return null;
      await spendSessionTokens(tx, row.id, input.now);
      await tx.query(INSERT_REFRESH_TOKEN, [
        input.refreshToken.hash,
        row.id,
        input.refreshToken.createdAt,
        input.refreshToken.expiresAt,
        row.max_expires_at,
      ]);
      const tokenHash = row.token_type === "session" ? input.sessionTokenHash : null;
      const updated = await extendSession(tx, row.id, input.expiresAt, tokenHash);
      pending.events.push({ kind: "session_updated", sessionId: row.id });
      return updated;
    });
  }

  async updateSessionData(sessionId: string, data: JsonValue, now: number): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      const row = await one<SessionRow>(
        tx,
        `UPDATE sessions SET data = $1::json WHERE id = $2 AND ${LIVE}3 RETURNING *`,
        [JSON.stringify(data), sessionId, now],
      );
      if (row === null) return null;
      pending.events.push({ kind: "session_updated", sessionId });
      return sessionFromRow(row);
    });
  }

  async markAuthenticated(
    sessionId: string,
    at: number,
    methods: readonly string[],
    now: number,
  ): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      const row = await one<SessionRow>(
        tx,
        `UPDATE sessions SET authenticated_at = $1, auth_methods = $2::json WHERE id = $3 AND ${LIVE}4 RETURNING *`,
        [at, JSON.stringify(methods), sessionId, now],
      );
      if (row === null) return null;
      pending.events.push({ kind: "session_updated", sessionId });
      return sessionFromRow(row);
    });
  }

  async touchSession(sessionId: string, at: number): Promise<void> {
    this.#assertOpen();
    await this.#pool.query(
      "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1 AND revoked_at IS NULL",
      [at, sessionId],
    );
  }

  async revokeSessions(
    sessionIds: readonly string[],
    reason: string,
    now: number,
    denyUntil: number,
  ): Promise<SessionRecord[]> {
    this.#assertOpen();
    const ids = [...new Set(sessionIds)];
    if (ids.length === 0) return [];
    return this.#write(async (tx, pending) => {
      // Locked in id order, so two revocations of overlapping sets cannot deadlock.
      const rows = await all<SessionRow>(
        tx,
        "SELECT * FROM sessions WHERE id = ANY($1) AND revoked_at IS NULL ORDER BY id FOR UPDATE",
        [ids],
      );
      const byId = new Map(rows.map((row) => [row.id, sessionFromRow(row)]));
      const sessions = ids.flatMap((id) => byId.get(id) ?? []);
      return this.#revoke(tx, sessions, reason, now, () => denyUntil, pending);
    });
  }

  async revokeUserSessions(input: RevokeUserSessionsInput): Promise<SessionRecord[]> {
    this.#assertOpen();
    return this.#write(async (tx, pending) => {
      // The user's lock orders this against a concurrent login: it commits wholly before
      // (and its session is revoked here) or after (and stays live).
      await tx.query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", [input.userId]);
      return this.#revokeUser(
        tx,
        input.userId,
        input.reason,
        input.now,
        input.denyUntil,
        input.keepSessionId ?? null,
        pending,
      );
    });
  }

  // Access JWT denylist

  async listDenylist(now: number): Promise<DenylistEntry[]> {
    this.#assertOpen();
    const rows = await all<{ id: string; expires_at: number }>(
      this.#pool,
      "SELECT id, expires_at FROM denylist WHERE expires_at > $1 ORDER BY id",
      [now],
    );
    return rows.map((row) => ({ id: row.id, expiresAt: row.expires_at }));
  }

  // Single-use links

  async createLink(link: NewLink): Promise<void> {
    this.#assertOpen();
    await this.#pool.query(
      `INSERT INTO links (hash, user_id, issued_by_session_id, data, redirect_to, confirm, provider,
         device_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8, $9, $10)`,
      linkParams(link),
    );
  }

  async redeemLink(input: RedeemLinkInput): Promise<RedeemLinkOutcome> {
    this.#assertOpen();
    const { hash, now } = input;
    // Consuming and creating commit together or not at all: a crash cannot leave a used
    // link without its session.
    return this.#write(async (tx, pending): Promise<RedeemLinkOutcome> => {
      // The conditional update is the decision; concurrent redeemers wait on its row lock
      // and then find it consumed. The read after a refusal only explains it.
      const consumed = await one<LinkRow>(
        tx,
        "UPDATE links SET consumed_at = $1 WHERE hash = $2 AND consumed_at IS NULL AND expires_at > $1 RETURNING *",
        [now, hash],
      );
      if (consumed === null) {
        const row = await one<LinkRow>(tx, "SELECT * FROM links WHERE hash = $1", [hash]);
        if (row === null) return { kind: "not_found" };
        return row.consumed_at !== null ? { kind: "used" } : { kind: "expired" };
      }
      if (input.session.session.userId !== consumed.user_id) {
        throw new Error("redeemLink: the session is not the link's user's");
      }
      const { session, replaced } = await this.#insertSession(tx, input.session, pending);
      return { kind: "redeemed", link: linkFromRow(consumed), session, replaced };
    });
  }

  async peekLink(hash: string): Promise<LinkRecord | null> {
    this.#assertOpen();
    return map(await one<LinkRow>(this.#pool, "SELECT * FROM links WHERE hash = $1", [hash]), linkFromRow);
  }

  // Replay protection

  async rememberNonce(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#assertOpen();
    // Inserts a new nonce, or takes over an expired one; no row back means it was seen.
    const { rowCount } = await this.#pool.query(
      `INSERT INTO nonces (key, expires_at) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $3`,
      [key, expiresAt, now],
    );
    return rowCount === 1;
  }

  // Throttling

  async recordFailure(key: string, now: number, forgetAfterMs: number): Promise<FailureCount> {
    this.#assertOpen();
    const row = await one<{ failures: number; last_failure_at: number }>(
      this.#pool,
      `INSERT INTO failure_counters (key, failures, last_failure_at) VALUES ($1, 1, $2)
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN $2 - failure_counters.last_failure_at > $3 THEN 1
                         ELSE failure_counters.failures + 1 END,
         last_failure_at = $2
       RETURNING failures, last_failure_at`,
      [key, now, forgetAfterMs],
    );
    const counted = required(row);
    return { failures: counted.failures, lastFailureAt: counted.last_failure_at };
  }

  async readFailures(key: string, now: number, forgetAfterMs: number): Promise<FailureCount | null> {
    this.#assertOpen();
    const row = await one<{ failures: number; last_failure_at: number }>(
      this.#pool,
      "SELECT failures, last_failure_at FROM failure_counters WHERE key = $1",
      [key],
    );
    if (row === null || now - row.last_failure_at > forgetAfterMs) return null;
    return { failures: row.failures, lastFailureAt: row.last_failure_at };
  }

  async clearFailures(key: string): Promise<void> {
    this.#assertOpen();
    await this.#pool.query("DELETE FROM failure_counters WHERE key = $1", [key]);
  }

  // Security log

  async appendSecurityEvent(event: SecurityEventRecord): Promise<void> {
    this.#assertOpen();
    await this.#pool.query(
      `INSERT INTO security_events (id, at, kind, user_id, username_key, session_id, surface,
         ip_address, user_agent, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json)`,
      securityEventParams(event),
    );
  }

  async listSecurityEvents(query: SecurityEventQuery): Promise<SecurityEventRecord[]> {
    this.#assertOpen();
    const rows = await all<SecurityEventRow>(
      this.#pool,
      `SELECT * FROM security_events
       WHERE ($1::bigint IS NULL OR user_id = $1)
         AND ($2::text[] IS NULL OR kind = ANY ($2))
         AND ($3::bigint IS NULL OR at >= $3)
         AND ($4::bigint IS NULL OR at < $4)
         AND ($5::text IS NULL OR id < $5)
       ORDER BY id DESC LIMIT $6`,
      [
        query.userId ?? null,
        query.kinds === undefined ? null : [...query.kinds],
        query.since ?? null,
        query.until ?? null,
        query.beforeId ?? null,
        Math.max(0, query.limit),
      ],
    );
    return rows.map(securityEventFromRow);
  }

  async pruneSecurityEvents(before: number, limit: number): Promise<number> {
    this.#assertOpen();
    const { rowCount } = await this.#pool.query(
      `DELETE FROM security_events WHERE id IN
         (SELECT id FROM security_events WHERE at < $1 ORDER BY at LIMIT $2)`,
      [before, Math.max(0, limit)],
    );
    return rowCount ?? 0;
  }

  // Webhook queue

  async enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    this.#assertOpen();
    if (deliveries.length === 0) return;
    await this.#pool.query(
      `INSERT INTO webhook_deliveries (id, event_id, endpoint, payload, attempts, next_attempt_at, created_at)
       SELECT id, event_id, endpoint, payload, 0, next_attempt_at, created_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
         AS d (id, event_id, endpoint, payload, next_attempt_at, created_at)
       ON CONFLICT (event_id, endpoint) DO NOTHING`,
      [
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.endpoint),
        deliveries.map((d) => d.payload),
        deliveries.map((d) => d.nextAttemptAt),
        deliveries.map((d) => d.createdAt),
      ],
    );
  }

  async claimWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    this.#assertOpen();
    // SKIP LOCKED: a concurrent claimer takes other rows instead of waiting for these.
    const rows = await all<WebhookRow>(
      this.#pool,
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1::bigint + $3::bigint
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE next_attempt_at <= $1
         ORDER BY next_attempt_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now, Math.max(0, limit), leaseMs],
    );
    // RETURNING gives no order; the claimed rows are sorted here, oldest due first.
    return rows
      .map(webhookFromRow)
      .sort(
        (a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1),
      );
  }

  async completeWebhook(id: string): Promise<void> {
    this.#assertOpen();
    await this.#pool.query("DELETE FROM webhook_deliveries WHERE id = $1", [id]);
  }

  async retryWebhook(id: string, nextAttemptAt: number): Promise<void> {
    this.#assertOpen();
    await this.#pool.query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2", [
      nextAttemptAt,
      id,
    ]);
  }

  // Signing keys

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    this.#assertOpen();
    return (await all<KeyRow>(this.#pool, "SELECT * FROM signing_keys ORDER BY created_at, kid")).map(
      keyFromRow,
    );
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    this.#assertOpen();
    await this.#write(async (tx, pending) => {
      await tx.query(
        `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, private_jwk = excluded.private_jwk,
           public_jwk = excluded.public_jwk, created_at = excluded.created_at, retired_at = excluded.retired_at`,
        [key.kid, key.alg, key.privateJwk, key.publicJwk, key.createdAt, key.retiredAt],
      );
      if (key.retiredAt === null) {
        await tx.query("UPDATE signing_keys SET retired_at = $1 WHERE kid <> $2 AND retired_at IS NULL", [
          key.createdAt,
          key.kid,
        ]);
      }
      pending.events.push({ kind: "keys_changed" });
    });
  }

  async deleteSigningKey(kid: string): Promise<void> {
    this.#assertOpen();
    await this.#write(async (tx, pending) => {
      const { rowCount } = await tx.query("DELETE FROM signing_keys WHERE kid = $1", [kid]);
      if ((rowCount ?? 0) > 0) pending.events.push({ kind: "keys_changed" });
    });
  }

  // Maintenance

  async purgeExpired(now: number): Promise<number> {
    this.#assertOpen();
    const cutoff = now - RETENTION_MS;
    return this.#write(async (tx) => {
      // Event rows are bookkeeping of this store, not data, so they are not counted.
      await tx.query("DELETE FROM events WHERE at < $1", [now - EVENT_RETENTION_MS]);
      // One at a time: a connection runs one statement at once, and tokens go before their sessions.
      let removed = 0;
      for (const [text, values] of [
        // Refresh tokens of purged sessions are deleted explicitly (not by cascade) so they are counted.
        [
          `DELETE FROM refresh_tokens WHERE expires_at <= $1 OR session_id IN
             (SELECT id FROM sessions WHERE expires_at <= $2 OR revoked_at <= $2)`,
          [now, cutoff],
        ],
        ["DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $1", [cutoff]],
        ["DELETE FROM links WHERE expires_at <= $1", [cutoff]],
        ["DELETE FROM nonces WHERE expires_at <= $1", [now]],
        ["DELETE FROM denylist WHERE expires_at <= $1", [now]],
        ["DELETE FROM failure_counters WHERE last_failure_at <= $1", [cutoff]],
      ] as const) {
        removed += await count(tx, text, [...values]);
      }
      return removed;
    });
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    await this.#pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed.stop();
    await this.#pool.end();
  }

  // Internals

  #assertOpen(): void {
    if (this.#closed) throw new Error("store is closed");
  }

  /**
   * Runs `work` in a transaction on one pooled connection; writes the events it recorded in
   * the same transaction, then emits them once it has committed. A deadlock or serialization
   * failure runs it again. A connection that failed (a timeout, a reset socket) is discarded,
   * not returned to the pool.
   */
  async #write<T>(work: (tx: pg.PoolClient, pending: PendingEvents) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.#pool.connect();
      const pending: PendingEvents = { events: [] };
      let written: { seq: number; xid: string }[] = [];
      try {
        await client.query("BEGIN");
        const result = await work(client, pending);
        if (pending.events.length > 0) {
          written = await this.#insertEvents(client, pending.events);
          this.#feed.noteLocal(written);
        }
        await client.query("COMMIT");
        client.release();
        this.#feed.emitCommitted(pending.events);
        return result;
      } catch (error) {
        this.#feed.forgetLocal(written);
        if (isServerError(error)) {
          const rolledBack = await client.query("ROLLBACK").then(
            () => true,
            () => false,
          );
          client.release(!rolledBack);
        } else {
          client.release(true);
        }
        if (attempt < MAX_ATTEMPTS && isRetryable(error)) continue;
        throw error;
      }
    }
  }

  /** Inserts the transaction's events and wakes the other nodes' feeds (NOTIFY fires at commit). */
  async #insertEvents(
    tx: pg.PoolClient,
    events: readonly StoreEvent[],
  ): Promise<{ seq: number; xid: string }[]> {
    const rows = events.map(eventToRow);
    return all<{ seq: number; xid: string }>(
      tx,
      `WITH inserted AS (
         INSERT INTO events (kind, payload)
         SELECT kind, payload::json FROM unnest($1::text[], $2::text[]) AS e (kind, payload)
         RETURNING seq, xid)
       SELECT seq, xid::text AS xid, (SELECT pg_notify($3, '')) IS NULL AS woken FROM inserted`,
      [rows.map((row) => row.kind), rows.map((row) => row.payload), this.#channel],
    );
  }

  /** Denylists `entries` (inside a transaction) and records a `denied` event for each. */
  async #deny(tx: pg.PoolClient, entries: readonly DenylistEntry[], pending: PendingEvents): Promise<void> {
    const expiry = await denyAll(tx, entries);
    for (const entry of entries) {
      pending.events.push({
        kind: "denied",
        entry: { id: entry.id, expiresAt: expiry.get(entry.id) ?? entry.expiresAt },
      });
    }
  }

  /** Revokes locked, live sessions (inside a transaction) and denylists their `sid`s. */
  async #revoke(
    tx: pg.PoolClient,
    sessions: readonly SessionRecord[],
    reason: string,
    at: number,
    denyUntil: (session: SessionRecord) => number,
    pending: PendingEvents,
  ): Promise<SessionRecord[]> {
    if (sessions.length === 0) return [];
    await tx.query(
      "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, device_slot = NULL WHERE id = ANY ($3) AND revoked_at IS NULL",
      [at, reason, sessions.map((s) => s.id)],
    );
    const denials: DenylistEntry[] = sessions.map((s) => ({ id: `sid:${s.id}`, expiresAt: denyUntil(s) }));
    const expiry = await denyAll(tx, denials);
    for (const [i, session] of sessions.entries()) {
      const denial = denials[i] as DenylistEntry;
      pending.events.push(
        { kind: "session_revoked", sessionId: session.id, userId: session.userId, reason },
        { kind: "denied", entry: { id: denial.id, expiresAt: expiry.get(denial.id) ?? denial.expiresAt } },
      );
    }
    return sessions.map((session) => ({ ...session, revokedAt: at, revokedReason: reason }));
  }

  /** Inserts a session (inside a transaction), replacing the live sessions of its device. */
  async #insertSession(
    tx: pg.PoolClient,
    input: CreateSessionInput,
    pending: PendingEvents,
  ): Promise<{ session: SessionRecord; replaced: string[] }> {
    const { session, refreshToken } = input;
    // No foreign key to users (tombstones outlive deleted users), so the check is here. The
    // lock orders logins of one user against each other and against revoke-all.
    if ((await one(tx, "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", [session.userId])) === null) {
      throw new Error("createSession: unknown user");
    }
    let replaced: SessionRecord[] = [];
    if (session.deviceId !== null) {
      // Every session still holding the device's slot gives it up; the live ones are revoked.
      const holders = await all<SessionRow>(
        tx,
        "UPDATE sessions SET device_slot = NULL WHERE user_id = $1 AND device_slot = $2 RETURNING *",
        [session.userId, session.deviceId],
      );
      const live = holders
        .map(sessionFromRow)
        .filter((other) => other.revokedAt === null && other.expiresAt > session.createdAt)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
      // The old session's JWTs can live no longer than the session itself.
      replaced = await this.#revoke(
        tx,
        live,
        "device_replaced",
        session.createdAt,
        (s) => s.expiresAt,
        pending,
      );
    }
    const inserted = await one<SessionRow>(
      tx,
      INSERT_SESSION,
      sessionParams({ ...session, revokedAt: null, revokedReason: null }),
    );
    await tx.query(INSERT_REFRESH_TOKEN, [
      refreshToken.hash,
      refreshToken.sessionId,
      refreshToken.createdAt,
      refreshToken.expiresAt,
      session.maxExpiresAt,
    ]);
    return { session: sessionFromRow(required(inserted)), replaced: replaced.map((s) => s.id) };
  }

  /** Revokes (inside a transaction) every session of the user live at `now`, but `keepSessionId`. */
  async #revokeUser(
    tx: pg.PoolClient,
    userId: number,
    reason: string,
    now: number,
    denyUntil: number,
    keepSessionId: string | null,
    pending: PendingEvents,
  ): Promise<SessionRecord[]> {
    const rows = await all<SessionRow>(
      tx,
      `SELECT * FROM sessions WHERE user_id = $1 AND ${LIVE}2 AND id IS DISTINCT FROM $3
       ORDER BY created_at DESC, id FOR UPDATE`,
      [userId, now, keepSessionId],
    );
    return this.#revoke(tx, rows.map(sessionFromRow), reason, now, () => denyUntil, pending);
  }
}

async function all<R extends pg.QueryResultRow>(db: Db, text: string, values: unknown[] = []): Promise<R[]> {
  return (await db.query<R>(text, values)).rows;
}

async function one<R extends pg.QueryResultRow>(
  db: Db,
  statement: string | Prepared,
  values: unknown[] = [],
): Promise<R | null> {
  const result =
    typeof statement === "string"
      ? await db.query<R>(statement, values)
      : await db.query<R>({ name: statement.name, text: statement.text, values });
  return result.rows[0] ?? null;
}

/** A statement the driver prepares once per connection and then only binds: no parse, no plan per call. */
interface Prepared {
  readonly name: string;
  readonly text: string;
}

function prepared(name: string, text: string): Prepared {
  return { name, text };
}

async function count(db: Db, text: string, values: unknown[]): Promise<number> {
  return (await db.query(text, values)).rowCount ?? 0;
}

function map<R, T>(row: R | null, convert: (row: R) => T): T | null {
  return row === null ? null : convert(row);
}

function required<R>(row: R | null): R {
  if (row === null) throw new Error("a statement that returns a row returned none");
  return row;
}

/**
 * Upserts denylist entries, keeping the later expiry of an existing one (a shorter second
 * denial must not reopen the window); returns the expiry each entry has now.
 */
async function denyAll(tx: pg.PoolClient, entries: readonly DenylistEntry[]): Promise<Map<string, number>> {
  if (entries.length === 0) return new Map();
  const stored = await all<{ id: string; expires_at: number }>(
    tx,
    `INSERT INTO denylist (id, expires_at) SELECT * FROM unnest($1::text[], $2::bigint[])
     ON CONFLICT (id) DO UPDATE SET expires_at = greatest(denylist.expires_at, excluded.expires_at)
     RETURNING id, expires_at`,
    [entries.map((e) => e.id), entries.map((e) => e.expiresAt)],
  );
  return new Map(stored.map((row) => [row.id, row.expires_at]));
}

/** Spends (without successor: superseded) every unspent refresh token of a session. */
async function spendSessionTokens(tx: pg.PoolClient, sessionId: string, now: number): Promise<void> {
  await tx.query(
    `UPDATE refresh_tokens SET spent_at = $1, successor_hash = NULL, sealed_successor = NULL
     WHERE session_id = $2 AND spent_at IS NULL`,
    [now, sessionId],
  );
}

/** The absolute cap is applied here as well as by the engine (defence in depth). */
async function extendSession(
  tx: pg.PoolClient,
  sessionId: string,
  expiresAt: number,
  tokenHash: string | null,
): Promise<SessionRecord> {
  const row = await one<SessionRow>(
    tx,
    `UPDATE sessions SET expires_at = least($1::bigint, max_expires_at),
       session_token_hash = coalesce($2, session_token_hash) WHERE id = $3 RETURNING *`,
    [expiresAt, tokenHash, sessionId],
  );
  return sessionFromRow(required(row));
}
