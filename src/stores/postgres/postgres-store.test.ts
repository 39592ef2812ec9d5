/**
 * The PostgreSQL store against the machine's PostgreSQL (127.0.0.1:5432, database `test`):
 * the whole conformance suite on a schema of its own for this run, emptied after each test
 * (migrating a new schema for every test would triple the suite's time) and dropped at the end.
 * PostgreSQL-specific behaviour (migrations, the event log's ordering, connection loss)
 * is tested in the files beside this one.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";
import { describeSessionStoreConformance } from "../conformance.js";
import { PostgresStore } from "./postgres-store.js";

export const TEST_DATABASE_URL =
  process.env.TESSERA_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const schema = `tessera_conf_${randomBytes(4).toString("hex")}`;
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

/** Every table but the migration ledger. */
async function empty(): Promise<void> {
  const { rows } = await admin.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'",
    [schema],
  );
  const tables = rows.map((row) => `${schema}.${row.name}`).join(", ");
  await admin.query(`TRUNCATE ${tables} RESTART IDENTITY`);
}

describeSessionStoreConformance("PostgresStore", async () => {
  const open = () => PostgresStore.open({ url: TEST_DATABASE_URL, schema, poolSize: 25 });
  return { store: await open(), reopen: open, cleanup: empty };
});
