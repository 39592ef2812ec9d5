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
  {
    version: 2,
    name: "store interface v2: accounts, session freshness, shared counters, security log, webhooks",
    sql: `
      ALTER TABLE users ADD COLUMN disabled_at INTEGER;

      -- Rebuilt rather than altered: a deleted user's sessions must stay as tombstones (so
      -- their tokens answer token_revoked), which the old ON DELETE CASCADE to users forbids.
      -- Existing sessions get the default absolute lifetime from their login (never shorter
      -- than their current expiry), their login as last authentication, by password.
      CREATE TABLE sessions_v2 (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        device_id TEXT,
        device_name TEXT,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        max_expires_at INTEGER NOT NULL,
        authenticated_at INTEGER NOT NULL,
        auth_methods TEXT NOT NULL CHECK (json_valid(auth_methods)),
        token_type TEXT NOT NULL CHECK (token_type IN ('jwt', 'session')),
        user_agent TEXT,
        ip_address TEXT,
        data TEXT NOT NULL CHECK (json_valid(data)),
        session_token_hash TEXT,
        revoked_at INTEGER,
        revoked_reason TEXT
      );
      INSERT INTO sessions_v2 (id, user_id, device_id, device_name, created_at, last_seen_at, expires_at,
          max_expires_at, authenticated_at, auth_methods, token_type, user_agent, ip_address, data,
          session_token_hash, revoked_at, revoked_reason)
        SELECT id, user_id, device_id, NULL, created_at, last_seen_at, expires_at,
          max(expires_at, created_at + 2592000000), created_at, '["pwd"]', token_type, user_agent,
          ip_address, data, session_token_hash, revoked_at, revoked_reason
        FROM sessions;
      DROP TABLE sessions;
      ALTER TABLE sessions_v2 RENAME TO sessions;
      CREATE INDEX sessions_by_token_hash ON sessions (session_token_hash) WHERE session_token_hash IS NOT NULL;
      CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_live_by_device ON sessions (user_id, device_id)
        WHERE device_id IS NOT NULL AND revoked_at IS NULL;
      CREATE INDEX sessions_by_created ON sessions (created_at);

      CREATE TABLE failure_counters (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure_at INTEGER NOT NULL
      );
      CREATE INDEX failure_counters_by_time ON failure_counters (last_failure_at);

      -- No foreign keys: the log is the audit trail and outlives users and sessions.
      CREATE TABLE security_events (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        user_id INTEGER,
        username_key TEXT,
        session_id TEXT,
        surface TEXT,
        ip_address TEXT,
        user_agent TEXT,
        detail TEXT NOT NULL CHECK (json_valid(detail))
      );
      CREATE INDEX security_events_by_user ON security_events (user_id, id) WHERE user_id IS NOT NULL;
      CREATE INDEX security_events_by_time ON security_events (at);

      CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (event_id, endpoint)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, created_at);
    `,
  },
  {
    version: 3,
    name: "provider identities: (provider, issuer, subject) linked to a user",
    // No row for users made by providers before: which partner vouched for them is not
    // recorded anywhere, so they are linked by an operator (`tessera users link`) or, for a
    // partner configured to, adopted on that partner's next login (see engine/identities.ts).
    sql: `
      CREATE TABLE identities (
        provider TEXT NOT NULL,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (provider, issuer, subject)
      ) WITHOUT ROWID;
      CREATE INDEX identities_by_user ON identities (user_id, created_at);
    `,
  },
];

/**
 * Brings the database up to the latest schema and returns how many migrations it applied.
 * Runs in one immediate transaction, so two processes opening a new file at once do not
 * both apply the same migration.
 *
 * Foreign keys are off while it runs (SQLite's procedure for rebuilding a table: dropping
 * the old one must not cascade into the tables that point at it) and checked before commit.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  const enforced = db.pragma("foreign_keys", { simple: true }) === 1;
  // The pragma is a no-op inside a transaction, so it is switched out here.
  db.pragma("foreign_keys = OFF");
  try {
    return applyMigrations(db, migrations);
  } finally {
    if (enforced) db.pragma("foreign_keys = ON");
  }
}

function applyMigrations(db: Database.Database, migrations: readonly Migration[]): number {
  // An up-to-date file needs no write lock: a process opening it (the CLI, a second server)
  // is not held up by another process's write.
  if (schemaVersion(db) === (migrations.at(-1)?.version ?? 0)) return 0;
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
    if (applied > 0 && db.prepare("PRAGMA foreign_key_check").all().length > 0) {
      throw new Error("the migrated database fails its foreign key check");
    }
    return applied;
  });
  return apply.immediate();
}

/** The applied schema version read without a lock; null before the first migration. */
function schemaVersion(db: Database.Database): number | null {
  const ledger = db
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .get();
  if (ledger === undefined) return null;
  return (
    db.prepare<[], { version: number | null }>("SELECT max(version) AS version FROM schema_migrations").get()
      ?.version ?? null
  );
}
