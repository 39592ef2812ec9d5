/**
 * What the PostgreSQL store's own tests share: the test database, a schema per test file
 * (dropped when the file is done), raw connections into it, and waiting for a condition.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { StoreEvent } from "../src/stores/session-store.js";

export const TEST_DATABASE_URL =
  process.env.TESSERA_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A schema name no other run uses. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** The same database behind another port (a proxy in front of the server). */
export function urlThrough(port: number): string {
  const url = new URL(TEST_DATABASE_URL);
  url.port = String(port);
  return url.toString();
}

/** A raw client whose unqualified names resolve in `schema`. */
export async function rawClient(schema: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  client.on("error", () => {});
  await client.connect();
  return client;
}

export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Resolves once `check` holds, checking every few ms; rejects after `ms` (a bound, not a wait). */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const updateOf =
  (sessionId: string) =>
  (event: StoreEvent): boolean =>
    event.kind === "session_updated" && event.sessionId === sessionId;
