/**
 * The SQLite schema of Tessera as an ordered list of migrations. Each applied migration is
 * recorded in `schema_migrations`, so opening a database applies only what it lacks, and
 * a database written by a newer Tessera is refused rather than misread.
 *
 * Append new migrations at the end; never edit one that has shipped.
 */

import type Database from "better-sqlite3";

export interface Migration {
  /** Consecutive from 1. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        uuid TEXT NOT NULL UNIQUE,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL UNIQUE,
        password_hash TEXT,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        device_id TEXT,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        token_type TEXT NOT NULL CHECK (token_type IN ('jwt', 'session')),
        user_agent TEXT,
        ip_address TEXT,
        data TEXT NOT NULL CHECK (json_valid(data)),
        session_token_hash TEXT,
        revoked_at INTEGER,
        revoked_reason TEXT
      );
      CREATE INDEX sessions_by_token_hash ON sessions (session_token_hash) WHERE session_token_hash IS NOT NULL;
      CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_live_by_device ON sessions (user_id, device_id)
        WHERE device_id IS NOT NULL AND revoked_at IS NULL;
      CREATE INDEX sessions_by_created ON sessions (created_at);

      CREATE TABLE refresh_tokens (
        hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        spent_at INTEGER,
        successor_hash TEXT,
        sealed_successor TEXT
      );
      CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
      CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

      -- No foreign key on issued_by_session_id: the link is audit data and may outlive the
      -- session, which purgeExpired removes a day after it ends.
      CREATE TABLE links (
        hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        issued_by_session_id TEXT,
        data TEXT NOT NULL CHECK (json_valid(data)),
        redirect_to TEXT,
        confirm INTEGER NOT NULL,
        provider TEXT,
        device_id TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        consumed_at INTEGER
      );

      CREATE TABLE nonces (
        key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );

      CREATE TABLE denylist (
        id TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );

      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk TEXT,
        created_at INTEGER NOT NULL,
        retired_at INTEGER
      );

      -- The cross-process event feed: written in the transaction of the change it reports,
      -- read by every process's poll timer. AUTOINCREMENT keeps seq from being reused after
      -- pruning, so a reader's "seq > last seen" never skips a new row.
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL CHECK (json_valid(payload))
      );
      CREATE INDEX events_by_time ON events (at);
    `,
  },
];

/**
 * Brings the database up to the latest schema and returns how many migrations it applied.
 * Runs in one immediate transaction, so two processes opening a new file at once do not
 * both apply the same migration.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  const apply = db.transaction((): number => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const row = db
      .prepare<[], { version: number | null }>("SELECT max(version) AS version FROM schema_migrations")
      .get();
    const current = row?.version ?? 0;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `database schema version ${current} is newer than this version of Tessera supports (${latest}); upgrade Tessera`,
      );
    }
    const record = db.prepare<[number, string, number]>(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
    );
    let applied = 0;
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      applied += 1;
    }
    return applied;
  });
  return apply.immediate();
}
