/**
 * Opening the PostgreSQL store: options, the checks an operator needs to hear about at
 * start-up rather than at the first request, and the migration. Every refusal is a
 * `StoreOpenError` that names the fix and shows the URL without its password.
 */

import pg from "pg";
import { StoreOpenError } from "../session-store.js";
import { ServerClock } from "./postgres-clock.js";
import { clientConfig, redactUrl } from "./postgres-connection.js";
import type { PostgresEventFeed } from "./postgres-event-feed.js";
import { migrate, SchemaTooNewError } from "./postgres-migrations.js";

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host:port/database`. */
  readonly url: string;
  /**
   * The schema Tessera's tables live in; created on first open. Lowercase letters, digits
   * and `_` (it is also part of the NOTIFY channel's name).
   * @default "tessera"
   */
  readonly schema?: string;
  /**
   * The event feed's lease: `events.isCurrent()` is true only while a read of the event log
   * succeeded within this many ms. The feed reads every lease/3.
   * @default 1000
   */
  readonly revocationLeaseMs?: number;
  /**
   * The bound on one statement: the server cancels it (`statement_timeout`), the client
   * gives up waiting 500 ms later, and connecting (or waiting for a pooled connection) may
   * take this long.
   * @default 2000
   */
  readonly statementTimeoutMs?: number;
  /**
   * Connections in the pool (the event feed has one more of its own).
   * @default 10
   */
  readonly poolSize?: number;
  /**
   * Told about settings that weaken Tessera's guarantees without breaking it:
   * `synchronous_commit = off` (a crash can lose the last acknowledged revocations) and
   * `fsync = off`. The store still opens: such settings are sometimes chosen knowingly.
   * @default console.warn
   */
  readonly onWarning?: (message: string) => void;
}

export interface OpenedPostgres {
  readonly name: string;
  readonly pool: pg.Pool;
  readonly feed: PostgresEventFeed;
  readonly channel: string;
  readonly clock: ServerClock;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;
/** `pg_current_xact_id()` and `xid8`, which the event feed's cursor needs, came in 13. */
const MIN_SERVER_VERSION = 130_000;

export type OpenFeed = (
  config: pg.ClientConfig,
  channel: string,
  leaseMs: number,
  clock: ServerClock,
) => Promise<PostgresEventFeed>;

export async function openPostgres(
  options: PostgresStoreOptions,
  openFeed: OpenFeed,
): Promise<OpenedPostgres> {
  const schema = options.schema ?? "tessera";
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      "schema must be lowercase letters, digits and _ (at most 48), starting with a letter or _",
    );
  }
  const leaseMs = positive(options.revocationLeaseMs ?? 1000, "revocationLeaseMs");
  const statementTimeoutMs = positive(options.statementTimeoutMs ?? 2000, "statementTimeoutMs");
  const poolSize = positive(options.poolSize ?? 10, "poolSize");
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  const where = redactUrl(options.url);

  const config = clientConfig({ url: options.url, schema, statementTimeoutMs });
  const pool = new pg.Pool({ ...config, max: poolSize, idleTimeoutMillis: 30_000 });
  // An idle pooled client whose connection fails emits `error` on the pool; unhandled, that
  // is an uncaught exception that ends the process (pg #1611). The pool discards the client
  // by itself and the next query opens a new one.
  pool.on("error", () => {});
  // And a checked-out client's own `error` event between two queries of a transaction: the
  // query in flight rejects, which is what the store reports.
  pool.on("connect", (client) => client.on("error", () => {}));

  const clock = new ServerClock();
  const channel = `tessera_events_${schema}`;
  let feed: PostgresEventFeed | null = null;
  try {
    const client = await pool.connect().catch((error: unknown) => {
      throw new StoreOpenError(
        `cannot reach PostgreSQL at ${where}: ${reason(error)}; check the URL and that the server is up`,
        {
          cause: error,
        },
      );
    });
    try {
      await checkServer(client, where, warn, clock);
      await migrate(client, schema);
      client.release();
    } catch (error) {
      client.release(true);
      throw error;
    }
    // The feed's reads bound the lease: one that takes longer has lost it anyway.
    const feedConfig: pg.ClientConfig = {
      ...config,
      statement_timeout: leaseMs,
      query_timeout: leaseMs,
      connectionTimeoutMillis: Math.min(statementTimeoutMs, Math.max(leaseMs, 250)),
    };
    feed = await openFeed(feedConfig, channel, leaseMs, clock);
    return { name: `postgres:${where} (schema ${schema})`, pool, feed, channel, clock };
  } catch (error) {
    feed?.stop();
    await pool.end().catch(() => {});
    if (error instanceof StoreOpenError) throw error;
    if (error instanceof SchemaTooNewError)
      throw new StoreOpenError(`PostgreSQL at ${where}: ${error.message}`, { cause: error });
    throw new StoreOpenError(`cannot open the PostgreSQL store at ${where}: ${reason(error)}`, {
      cause: error,
    });
  }
}

async function checkServer(
  client: pg.PoolClient,
  where: string,
  warn: (message: string) => void,
  clock: ServerClock,
): Promise<void> {
  const sentAt = Date.now();
  const { rows } = await client.query<{
    version: string;
    synchronous_commit: string;
    fsync: string;
    now: number;
  }>(
    `SELECT current_setting('server_version_num') AS version,
            current_setting('synchronous_commit') AS synchronous_commit,
            current_setting('fsync') AS fsync,
            (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now`,
  );
  const receivedAt = Date.now();
  const row = rows[0];
  if (row === undefined) throw new Error("the server answered no row to a settings query");
  clock.sample(row.now, sentAt, receivedAt);
  if (Number(row.version) < MIN_SERVER_VERSION) {
    throw new StoreOpenError(
      `PostgreSQL at ${where} is version ${row.version}; Tessera needs PostgreSQL 13 or newer`,
    );
  }
  if (row.synchronous_commit === "off") {
    warn(
      `PostgreSQL at ${where} has synchronous_commit = off: a server crash can lose revocations it already acknowledged. Set synchronous_commit = on for Tessera's database or role.`,
    );
  }
  if (row.fsync === "off") {
    warn(
      `PostgreSQL at ${where} has fsync = off: a server crash can lose or corrupt revocations. Turn fsync on.`,
    );
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
  return value;
}

function reason(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reason(error.errors[0]);
  return error instanceof Error && error.message !== "" ? error.message : String(error);
}
