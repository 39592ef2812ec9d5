/**
 * The event feed of the PostgreSQL store: how a revocation acknowledged by one node reaches
 * every other node, as an ordered log with a cursor rather than fire-and-forget messages.
 *
 * Writers insert a row into `events` in the transaction of the change (`postgres-store.ts`)
 * and `pg_notify` the channel. Each node follows the table on a dedicated connection that
 * also LISTENs: a notification only wakes the reader early; the reader also polls every
 * lease/3, so a lost notification (NOTIFY keeps nothing for a disconnected listener) costs at
 * most that long.
 *
 * Out-of-order visibility: `seq` values are handed out when rows are inserted, but
 * transactions commit in any order, so a reader that advanced a "seq > last" cursor past a
 * row still in flight would skip it forever. The cursor is therefore a transaction id: every
 * row records `xid` (`pg_current_xact_id()`), and once a reader's snapshot has `xmin` above a
 * row's xid, that transaction has ended and the set of rows below xmin is final. Each read
 * takes the rows with `xid >= frontier` not yet delivered, emits them at once (visible rows
 * are never held back, whatever else is in flight), and then moves the frontier to the
 * snapshot's xmin. A transaction still running at the snapshot has an xid at or above xmin,
 * so its rows are read by a later poll.
 *
 * Liveness: `isCurrent()` is true only while a read that started within `leaseMs` succeeded.
 * Every read has a client-side timeout, so a connection that stays open but stops answering
 * (a blocked read, a half-dead TCP peer) ends the lease and the connection; the feed then
 * reconnects, and emits `reset` before it reports current again, because events may have
 * been missed (the engine flushes its caches).
 *
 * Own events are emitted right after their transaction commits; their seqs are registered
 * before the commit, so reading them back skips them.
 */

import pg from "pg";
import { EventListeners } from "../event-listeners.js";
import { eventFromPayload } from "../event-rows.js";
import type { StoreEvent, StoreEventFeed } from "../session-store.js";
import { quoteIdent } from "./postgres-migrations.js";

/** Rows read per poll; a full batch is followed by another read at once. */
const POLL_BATCH = 1000;

export interface EventFeedOptions {
  /** Connection settings of the dedicated connection (the store's, with the feed's timeouts). */
  readonly config: pg.ClientConfig;
  /** The NOTIFY channel's name, as given to `pg_notify`. */
  readonly channel: string;
  readonly leaseMs: number;
  /** Called with each server time sample: the server's clock and the local send/receive times. */
  readonly onClockSample: (serverNow: number, sentAt: number, receivedAt: number) => void;
}

interface PolledRow {
  readonly seq: number;
  readonly xid: string;
  readonly kind: string;
  readonly payload: unknown;
}

interface PollResult {
  readonly xmin: string;
  readonly now: number;
  readonly rows: PolledRow[];
}

const POLL_SQL = `
  SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
         (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now,
         coalesce((
           SELECT json_agg(json_build_object('seq', e.seq, 'xid', e.xid::text, 'kind', e.kind,
                                             'payload', e.payload) ORDER BY e.seq)
           FROM (SELECT seq, xid, kind, payload FROM events
                 WHERE xid >= $1::xid8 AND seq <> ALL ($2::bigint[])
                 ORDER BY seq LIMIT $3) e
         ), '[]'::json) AS rows`;

export class PostgresEventFeed implements StoreEventFeed {
  readonly #options: EventFeedOptions;
  readonly #listeners = new EventListeners();
  readonly #pollIntervalMs: number;
  /** Rows delivered (or written by this node) whose xid is not yet below the frontier. */
  readonly #seen = new Map<number, bigint>();
  #frontier: bigint;
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  #pollAgain = false;
  #lastConfirmedAt = Number.NEGATIVE_INFINITY;
  /** Set when the connection was lost: the next successful read emits `reset` first. */
  #missedSomething = false;
  #stopped = false;

  /** Connects, starts listening, takes the current frontier and starts following. */
  static async open(options: EventFeedOptions): Promise<PostgresEventFeed> {
    const feed = new PostgresEventFeed(options, 0n);
    const client = await feed.#connect();
    try {
      const { rows } = await client.query<{ xmin: string }>(
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin",
      );
      feed.#frontier = BigInt(rows[0]?.xmin ?? "0");
      feed.#client = client;
      await feed.#poll();
      if (feed.#client === null) throw new Error("the event feed's first read failed");
      feed.#schedule(feed.#pollIntervalMs);
      return feed;
    } catch (error) {
      feed.stop();
      await client.end().catch(() => {});
      throw error;
    }
  }

  private constructor(options: EventFeedOptions, frontier: bigint) {
    this.#options = options;
    this.#frontier = frontier;
    this.#pollIntervalMs = Math.max(10, Math.floor(options.leaseMs / 3));
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.#listeners.subscribe(listener);
  }

  isCurrent(): boolean {
    return (
      !this.#stopped && this.#client !== null && Date.now() - this.#lastConfirmedAt <= this.#options.leaseMs
    );
  }

  /** Registers rows this node has inserted in a transaction not yet committed, so reading them back skips them. */
  noteLocal(rows: readonly { readonly seq: number; readonly xid: string }[]): void {
    for (const row of rows) this.#seen.set(row.seq, BigInt(row.xid));
  }

  /** Forgets rows of a transaction that rolled back (their seqs will never be seen). */
  forgetLocal(rows: readonly { readonly seq: number }[]): void {
    for (const row of rows) this.#seen.delete(row.seq);
  }

  /** Emits the events of a transaction this node has just committed. */
  emitCommitted(events: readonly StoreEvent[]): void {
    this.#listeners.emit(events);
  }

  /** Reads now rather than at the next tick (a notification, or a test that wants it). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    if (client !== null) void endQuietly(client);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    // unref: a feed nobody else keeps alive must not hold the process open.
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, delayMs).unref();
  }

  async #tick(): Promise<void> {
    if (this.#stopped || this.#polling) return;
    if (this.#client === null) {
      try {
        this.#client = await this.#connect();
      } catch {
        this.#schedule(this.#pollIntervalMs);
        return;
      }
      if (this.#stopped) {
        void endQuietly(this.#client);
        this.#client = null;
        return;
      }
    }
    await this.#poll();
    this.#schedule(this.#pollAgain ? 0 : this.#pollIntervalMs);
  }

  /** One read. Never throws: a failure drops the connection and the lease runs out. */
  async #poll(): Promise<void> {
    const client = this.#client;
    if (client === null || this.#polling) return;
    this.#polling = true;
    this.#pollAgain = false;
    try {
      const sentAt = Date.now();
      const { rows } = await client.query<PollResult>(POLL_SQL, [
        this.#frontier.toString(),
        [...this.#seen.keys()],
        POLL_BATCH,
      ]);
      const receivedAt = Date.now();
      const result = rows[0];
      if (result === undefined || this.#stopped || client !== this.#client) return;
      this.#options.onClockSample(result.now, sentAt, receivedAt);
      if (this.#missedSomething) {
        // Before anything else: whatever was cached while we were away may be stale.
        this.#missedSomething = false;
        this.#listeners.emit([{ kind: "reset" }]);
      }
      for (const row of result.rows) {
        if (this.#seen.has(row.seq)) continue;
        this.#seen.set(row.seq, BigInt(row.xid));
        const event = eventFromPayload(row.kind, row.payload);
        if (event !== null) this.#listeners.emit([event]);
      }
      if (result.rows.length < POLL_BATCH) {
        const xmin = BigInt(result.xmin);
        if (xmin > this.#frontier) this.#frontier = xmin;
        for (const [seq, xid] of this.#seen) if (xid < this.#frontier) this.#seen.delete(seq);
        this.#lastConfirmedAt = sentAt;
      } else {
        this.#pollAgain = true;
      }
    } catch {
      this.#drop(client);
    } finally {
      this.#polling = false;
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client(this.#options.config);
    // Without a listener an error on this connection (the server restarting, a reset
    // socket) would be an uncaught exception that ends the process (pg #1611).
    client.on("error", () => this.#drop(client));
    client.on("end", () => this.#drop(client));
    client.on("notification", () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.#options.channel)}`);
    } catch (error) {
      void endQuietly(client);
      throw error;
    }
    return client;
  }

  #drop(client: pg.Client): void {
    if (client !== this.#client) return;
    this.#client = null;
    // The lease ends now, not when it runs out: a new connection is current only once a
    // read on it has succeeded (and emitted the reset).
    this.#lastConfirmedAt = Number.NEGATIVE_INFINITY;
    this.#missedSomething = true;
    void endQuietly(client);
    if (!this.#stopped && !this.#polling) this.#schedule(this.#pollIntervalMs);
  }
}

/** Ends a connection without waiting on a peer that may never answer. */
async function endQuietly(client: pg.Client): Promise<void> {
  await Promise.race([
    client.end().catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, 1000).unref()),
  ]);
}
