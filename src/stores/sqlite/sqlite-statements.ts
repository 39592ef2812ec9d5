/**
 * Every SQL statement of the SQLite store, prepared once per connection. The bind and
 * result types given to `prepare` are the only place rows meet TypeScript types, so a
 * statement and its row type are kept side by side here.
 */

import type Database from "better-sqlite3";
import type { NewRefreshToken, NewUser, SigningKeyRecord } from "../session-store.js";
import type { EventRow, KeyRow, LinkRow, RefreshTokenRow, SessionRow, UserRow } from "./sqlite-rows.js";

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

    insertSession: prepare<[SessionRow]>(
      `INSERT INTO sessions (id, user_id, device_id, created_at, last_seen_at, expires_at, token_type,
         user_agent, ip_address, data, session_token_hash, revoked_at, revoked_reason)
       VALUES (@id, @user_id, @device_id, @created_at, @last_seen_at, @expires_at, @token_type,
         @user_agent, @ip_address, @data, @session_token_hash, @revoked_at, @revoked_reason)`,
    ),
    sessionById: prepare<[string], SessionRow>("SELECT * FROM sessions WHERE id = ?"),
    sessionByTokenHash: prepare<[string], SessionRow>("SELECT * FROM sessions WHERE session_token_hash = ?"),
    liveSessionsOfDevice: prepare<[number, string, number], SessionRow>(
      `SELECT * FROM sessions
       WHERE user_id = ? AND device_id = ? AND revoked_at IS NULL AND expires_at > ?`,
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
    extendSession: prepare<[number, string | null, string]>(
      "UPDATE sessions SET expires_at = ?, session_token_hash = coalesce(?, session_token_hash) WHERE id = ?",
    ),
    updateSessionData: prepare<[string, string, number]>(
      "UPDATE sessions SET data = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?",
    ),
    touchSession: prepare<[number, string, number]>(
      "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
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

    // Inserts a new nonce, or takes over an expired one; changes = 0 means it was seen.
    rememberNonce: prepare<[string, number, number]>(
      `INSERT INTO nonces (key, expires_at) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?`,
    ),

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
    purgeEvents: prepare<[number]>("DELETE FROM events WHERE at < ?"),

    insertEvent: prepare<[number, string, string]>("INSERT INTO events (at, kind, payload) VALUES (?, ?, ?)"),
    eventsAfter: prepare<[number, number], EventRow>(
      "SELECT seq, kind, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
    ),
    lastEventSeq: prepare<[], { seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM events"),
    ping: prepare<[], { one: number }>("SELECT 1 AS one"),
  };
}
