/**
 * The PostgreSQL schema as an ordered list of migrations and the runner that applies them.
 *
 * The runner holds a transaction-scoped advisory lock keyed on the schema name for the
 * whole run, so of several nodes starting at once one migrates and the others wait and
 * then find nothing to do. Each applied migration is recorded in the ledger
 * `schema_migrations`; DDL is transactional in PostgreSQL, so a failed migration leaves
 * neither its tables nor its ledger row. A schema written by a newer Tessera is refused
 * rather than misread.
 *
 * Append new migrations at the end (a new file under `migrations/`); never edit one that
 * has shipped.
 */

import type { ClientBase } from "pg";
import { sql as initial } from "./migrations/001-initial.js";
import { sql as identities } from "./migrations/002-identities.js";

export interface Migration {
  /** Consecutive from 1. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "initial schema", sql: initial },
  { version: 2, name: "provider identities", sql: identities },
];

/** The schema is newer than this code: an operator must upgrade Tessera, not retry. */
export class SchemaTooNewError extends Error {
  override readonly name = "SchemaTooNewError";
}

/** How long a migration may run; DDL on a large table can take longer than a request may. */
const MIGRATION_TIMEOUT_MS = 120_000;

/**
 * Brings `schema` up to the latest migration on `client` (a connection of its own, not in
 * a transaction) and returns how many migrations it applied.
 */
export async function migrate(
  client: ClientBase,
  schema: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  const ident = quoteIdent(schema);
  await client.query("BEGIN");
  try {
    await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `tessera:migrate:${schema}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
    await client.query(`SET LOCAL search_path TO ${ident}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number | null }>(
      "SELECT max(version) AS version FROM schema_migrations",
    );
    const current = rows[0]?.version ?? 0;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new SchemaTooNewError(
        `schema "${schema}" is at version ${current}, newer than this version of Tessera supports (${latest}); upgrade Tessera`,
      );
    }
    let applied = 0;
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      applied += 1;
    }
    await client.query("COMMIT");
    return applied;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

/** Schema names are checked by the store's options; quoting keeps them exact anyway. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
