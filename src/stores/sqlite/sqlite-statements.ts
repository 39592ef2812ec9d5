/**
 * Every SQL statement of the SQLite store, prepared once per connection. The bind and
 * result types given to `prepare` are the only place rows meet TypeScript types, so a
 * statement and its row type are kept side by side here.
 */

import type Database from "better-sqlite3";
import type { IdentityRow } from "../identities.js";
import type { NewRefreshToken, NewUser, NewWebhookDelivery, SigningKeyRecord } from "../session-store.js";
import type {
  EventRow,
  KeyRow,
  LinkRow,
  RefreshTokenRow,
  SecurityEventRow,
  SessionRow,
  UserRow,
  WebhookRow,
} from "./sqlite-rows.js";

export type Statements = ReturnType<typeof prepareStatements>;

/**
 * The part of a better-sqlite3 statement the store uses. Declared here (rather than using
 * the driver's type) so the inferred `Statements` type can be written out in declarations.
 */
export interface Statement<Bind extends unknown[], Row> {
  run(...params: Bind): Database.RunResult;
  get(...params: Bind): Row | undefined;
  all(...params: Bind): Row[];
}

export function prepareStatements(db: Database.Database) {
  const prepare = <Bind extends unknown[], Row = unknown>(sql: string): Statement<Bind, Row> =>
    db.prepare<Bind, Row>(sql);
  return {
    insertUser: prepare<[NewUser], { id: number }>(
      `INSERT INTO users (uuid, username, username_key, password_hash, created_at)
       VALUES (@uuid, @username, @usernameKey, @passwordHash, @createdAt)
       ON CONFLICT (username_key) DO NOTHING RETURNING id`,
    ),
    userById: prepare<[number], UserRow>("SELECT * FROM users WHERE id = ?"),
    userByKey: prepare<[string], UserRow>("SELECT * FROM users WHERE username_key = ?"),
    listUsers: prepare<[number, number], UserRow>("SELECT * FROM users ORDER BY id LIMIT ? OFFSET ?"),
    setPasswordHash: prepare<[string, number]>("UPDATE users SET password_hash = ? WHERE id = ?"),
    disableUser: prepare<[number, number]>(
      "UPDATE users SET disabled_at = coalesce(disabled_at, ?) WHERE id = ?",
    ),
    enableUser: prepare<[number]>("UPDATE users SET disabled_at = NULL WHERE id = ?"),
    deleteUser: prepare<[number]>("DELETE FROM users WHERE id = ?"),
    insertIdentity: prepare<[IdentityRow], { user_id: number }>(
      `INSERT INTO identities (provider, issuer, subject, user_id, created_at)
       VALUES (@provider, @issuer, @subject, @user_id, @created_at)
       ON CONFLICT (provider, issuer, subject) DO NOTHING RETURNING user_id`,
    ),
    identityByKey: prepare<[string, string, string], IdentityRow>(
      "SELECT * FROM identities WHERE provider = ? AND issuer = ? AND subject = ?",
    ),
    identitiesOfUser: prepare<[number], IdentityRow>(
      "SELECT * FROM identities WHERE user_id = ? ORDER BY created_at, provider, issuer, subject",
    ),
    deleteIdentity: prepare<[string, string, string]>(
      "DELETE FROM identities WHERE provider = ? AND issuer = ? AND subject = ?",
    ),
    clearUserSessionData: prepare<[number]>("UPDATE sessions SET data = 'null' WHERE user_id = ?"),

    insertSession: prepare<[SessionRow]>(
      `INSERT INTO sessions (id, user_id, device_id, device_name, created_at, last_seen_at, expires_at,
         max_expires_at, authenticated_at, auth_methods, token_type, user_agent, ip_address, data,
         session_token_hash, revoked_at, revoked_reason)
       VALUES (@id, @user_id, @device_id, @device_name, @created_at, @last_seen_at, @expires_at,
         @max_expires_at, @authenticated_at, @auth_methods, @token_type, @user_agent, @ip_address, @data,
         @session_token_hash, @revoked_at, @revoked_reason)`,
    ),
    sessionById: prepare<[string], SessionRow>("SELECT * FROM sessions WHERE id = ?"),
    sessionByTokenHash: prepare<[string], SessionRow>("SELECT * FROM sessions WHERE session_token_hash = ?"),
    liveSessionsOfDevice: prepare<[number, string, number], SessionRow>(
      `SELECT * FROM sessions
       WHERE user_id = ? AND device_id = ? AND revoked_at IS NULL AND expires_at > ?`,
    ),
    liveSessionsOfUserBut: prepare<[number, number, string | null], SessionRow>(
      `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
         AND id IS NOT ? ORDER BY created_at DESC, id`,
    ),
    liveSessionsOfUser: prepare<[number, number], SessionRow>(
      `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC, id`,
    ),
    liveSessions: prepare<[number, number], SessionRow>(
      `SELECT * FROM sessions WHERE revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC, id LIMIT ?`,
    ),
    revokeSession: prepare<[number, string, string]>(
      "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
    ),
    upgradeSession: prepare<[string, string]>(
      "UPDATE sessions SET token_type = 'session', session_token_hash = ? WHERE id = ?",
    ),
    setSessionMetadata: prepare<[string | null, string | null, string]>(
      "UPDATE sessions SET user_agent = ?, ip_address = ? WHERE id = ?",
    ),
    // The absolute cap is applied here as well as by the engine (defence in depth).
    extendSession: prepare<[number, string | null, string]>(
      `UPDATE sessions SET expires_at = min(?, max_expires_at),
         session_token_hash = coalesce(?, session_token_hash) WHERE id = ?`,
    ),
    markAuthenticated: prepare<[number, string, string, number]>(
      `UPDATE sessions SET authenticated_at = ?, auth_methods = ?
       WHERE id = ? AND revoked_at IS NULL AND expires_at > ?`,
    ),
    updateSessionData: prepare<[string, string, number]>(
      "UPDATE sessions SET data = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?",
    ),
    touchSession: prepare<[number, string, number]>(
      "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ? AND revoked_at IS NULL",
    ),

    insertRefreshToken: prepare<[NewRefreshToken]>(
      `INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
       VALUES (@hash, @sessionId, @createdAt, @expiresAt)`,
    ),
    refreshToken: prepare<[string], RefreshTokenRow>("SELECT * FROM refresh_tokens WHERE hash = ?"),
    spendRefreshToken: prepare<[number, string, string, string]>(
      `UPDATE refresh_tokens SET spent_at = ?, successor_hash = ?, sealed_successor = ?
       WHERE hash = ? AND spent_at IS NULL`,
    ),
    spendSessionRefreshTokens: prepare<[number, string]>(
      `UPDATE refresh_tokens SET spent_at = ?, successor_hash = NULL, sealed_successor = NULL
       WHERE session_id = ? AND spent_at IS NULL`,
    ),

    deny: prepare<[string, number], { expires_at: number }>(
      `INSERT INTO denylist (id, expires_at) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
       RETURNING expires_at`,
    ),
    denied: prepare<[string], { id: string }>("SELECT id FROM denylist WHERE id = ?"),
    liveDenylist: prepare<[number], { id: string; expires_at: number }>(
      "SELECT id, expires_at FROM denylist WHERE expires_at > ? ORDER BY id",
    ),

    insertLink: prepare<[LinkRow]>(
      `INSERT INTO links (hash, user_id, issued_by_session_id, data, redirect_to, confirm, provider,
         device_id, created_at, expires_at, consumed_at)
       VALUES (@hash, @user_id, @issued_by_session_id, @data, @redirect_to, @confirm, @provider,
         @device_id, @created_at, @expires_at, @consumed_at)`,
    ),
    link: prepare<[string], LinkRow>("SELECT * FROM links WHERE hash = ?"),
    consumeLink: prepare<[number, string, number]>(
      "UPDATE links SET consumed_at = ? WHERE hash = ? AND consumed_at IS NULL AND expires_at > ?",
    ),
    deleteUserLinks: prepare<[number]>("DELETE FROM links WHERE user_id = ?"),

    // Inserts a new nonce, or takes over an expired one; changes = 0 means it was seen.
    rememberNonce: prepare<[string, number, number]>(
      `INSERT INTO nonces (key, expires_at) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?`,
    ),

    // Starts again from one when the last failure is older than the window (the third bind).
    recordFailure: prepare<
      [{ key: string; now: number; forgetAfterMs: number }],
      { failures: number; last_failure_at: number }
    >(
      `INSERT INTO failure_counters (key, failures, last_failure_at) VALUES (@key, 1, @now)
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN @now - last_failure_at > @forgetAfterMs THEN 1 ELSE failures + 1 END,
         last_failure_at = @now
       RETURNING failures, last_failure_at`,
    ),
    failures: prepare<[string], { failures: number; last_failure_at: number }>(
      "SELECT failures, last_failure_at FROM failure_counters WHERE key = ?",
    ),
    clearFailures: prepare<[string]>("DELETE FROM failure_counters WHERE key = ?"),

    insertSecurityEvent: prepare<[SecurityEventRow]>(
      `INSERT INTO security_events (id, at, kind, user_id, username_key, session_id, surface,
         ip_address, user_agent, detail)
       VALUES (@id, @at, @kind, @user_id, @username_key, @session_id, @surface, @ip_address,
         @user_agent, @detail)`,
    ),
    // Optional filters are bound as null; kinds as a JSON array.
    securityEvents: prepare<
      [
        {
          userId: number | null;
          kinds: string | null;
          since: number | null;
          until: number | null;
          beforeId: string | null;
          limit: number;
        },
      ],
      SecurityEventRow
    >(
      `SELECT * FROM security_events
       WHERE (@userId IS NULL OR user_id = @userId)
         AND (@kinds IS NULL OR kind IN (SELECT value FROM json_each(@kinds)))
         AND (@since IS NULL OR at >= @since)
         AND (@until IS NULL OR at < @until)
         AND (@beforeId IS NULL OR id < @beforeId)
       ORDER BY id DESC LIMIT @limit`,
    ),
    pruneSecurityEvents: prepare<[number, number]>(
      `DELETE FROM security_events WHERE id IN
         (SELECT id FROM security_events WHERE at < ? ORDER BY at LIMIT ?)`,
    ),

    enqueueWebhook: prepare<[NewWebhookDelivery]>(
      `INSERT INTO webhook_deliveries (id, event_id, endpoint, payload, attempts, next_attempt_at, created_at)
       VALUES (@id, @eventId, @endpoint, @payload, 0, @nextAttemptAt, @createdAt)
       ON CONFLICT (event_id, endpoint) DO NOTHING`,
    ),
    // RETURNING gives no order; the store sorts the claimed rows.
    claimWebhooks: prepare<[{ now: number; limit: number; leaseMs: number }], WebhookRow>(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = @now + @leaseMs
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE next_attempt_at <= @now
         ORDER BY next_attempt_at, created_at, id LIMIT @limit)
       RETURNING *`,
    ),
    completeWebhook: prepare<[string]>("DELETE FROM webhook_deliveries WHERE id = ?"),
    retryWebhook: prepare<[number, string]>("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?"),

    signingKeys: prepare<[], KeyRow>("SELECT * FROM signing_keys ORDER BY created_at, kid"),
    saveSigningKey: prepare<[SigningKeyRecord]>(
      `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
       VALUES (@kid, @alg, @privateJwk, @publicJwk, @createdAt, @retiredAt)
       ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, private_jwk = excluded.private_jwk,
         public_jwk = excluded.public_jwk, created_at = excluded.created_at, retired_at = excluded.retired_at`,
    ),
    retireOtherKeys: prepare<[number, string]>(
      "UPDATE signing_keys SET retired_at = ? WHERE kid != ? AND retired_at IS NULL",
    ),
    deleteSigningKey: prepare<[string]>("DELETE FROM signing_keys WHERE kid = ?"),

    // Refresh tokens of purged sessions are deleted explicitly (not by cascade) so they are counted.
    purgeRefreshTokens: prepare<[number, number, number]>(
      `DELETE FROM refresh_tokens WHERE expires_at <= ? OR session_id IN
         (SELECT id FROM sessions WHERE expires_at <= ? OR revoked_at <= ?)`,
    ),
    purgeSessions: prepare<[number, number]>("DELETE FROM sessions WHERE expires_at <= ? OR revoked_at <= ?"),
    purgeLinks: prepare<[number]>("DELETE FROM links WHERE expires_at <= ?"),
    purgeNonces: prepare<[number]>("DELETE FROM nonces WHERE expires_at <= ?"),
    purgeDenylist: prepare<[number]>("DELETE FROM denylist WHERE expires_at <= ?"),
    purgeFailures: prepare<[number]>("DELETE FROM failure_counters WHERE last_failure_at <= ?"),
    purgeEvents: prepare<[number]>("DELETE FROM events WHERE at < ?"),

    insertEvent: prepare<[number, string, string]>("INSERT INTO events (at, kind, payload) VALUES (?, ?, ?)"),
    eventsAfter: prepare<[number, number], EventRow>(
      "SELECT seq, kind, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
    ),
    lastEventSeq: prepare<[], { seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM events"),
    ping: prepare<[], { one: number }>("SELECT 1 AS one"),
  };
}
