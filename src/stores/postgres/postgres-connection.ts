/**
 * How the PostgreSQL store connects: one configuration for the pool and for the event
 * feed's dedicated connection, with every timeout set so that a dead or stalled database
 * answers with a rejection within a bound instead of hanging a request:
 * - `connectionTimeoutMillis`: connecting, and waiting for a free pooled client;
 * - `statement_timeout`: the server cancels a statement that runs (or waits on a lock) too long;
 * - `query_timeout`: the client gives up on an answer that never comes (a half-dead TCP peer,
 *   where the server's own timeout cannot help); the connection is then discarded;
 * - `idle_in_transaction_session_timeout`: a node that dies inside a transaction releases
 *   its row locks;
 * - TCP keep-alive, so the kernel eventually notices a silent peer on idle connections.
 */

import type { ClientConfig } from "pg";
import pg from "pg";

/** int8 as a JavaScript number: times in ms and ids stay far below 2^53. */
const INT8_OID = 20;

const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

export interface ConnectionSettings {
  readonly url: string;
  readonly schema: string;
  readonly statementTimeoutMs: number;
}

export function clientConfig(settings: ConnectionSettings): ClientConfig {
  return {
    connectionString: settings.url,
    application_name: "tessera",
    connectionTimeoutMillis: settings.statementTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    // Past the server's own timeout, so a live server cancels first and says why.
    query_timeout: settings.statementTimeoutMs + 500,
    idle_in_transaction_session_timeout: Math.max(10_000, 5 * settings.statementTimeoutMs),
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    options: `-c search_path=${settings.schema}`,
    types,
  };
}

/** The URL without its password (`postgres://user@host:5432/db`), for messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.password = "";
    url.searchParams.delete("password");
    return url.toString();
  } catch {
    return "(unreadable database URL)";
  }
}

/** SQLSTATE codes after which the same transaction, run again, may well succeed. */
const RETRYABLE = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

/** The SQLSTATE of an error the server sent; null for anything else (a socket error, a timeout). */
export function sqlState(error: unknown): string | null {
  return error instanceof pg.DatabaseError && typeof error.code === "string" ? error.code : null;
}

export function isRetryable(error: unknown): boolean {
  const code = sqlState(error);
  return code !== null && RETRYABLE.has(code);
}

/**
 * True when the server answered with an SQL error: the connection is healthy and can be
 * rolled back and reused. Anything else (a timeout, a reset socket) discards the connection.
 */
export function isServerError(error: unknown): boolean {
  return sqlState(error) !== null;
}
