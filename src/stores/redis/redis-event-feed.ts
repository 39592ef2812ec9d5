/**
 * The event feed of the Redis store: a follower of one Redis Stream, the deployment's
 * ordered log of invalidations. Pub/Sub would lose what is sent while a node is
 * disconnected; a stream read from a cursor loses nothing that is still in it.
 *
 * - Writers add entries in the script of the change (on one Redis) and emit their own
 *   events at once; the follower skips entries carrying its own origin id.
 * - The follower reads with `XREAD BLOCK` on a dedicated connection, with a block of a
 *   third of the lease, so a healthy idle read returns about three times per lease. Each
 *   reply confirms the log up to the moment the read was *sent*; `isCurrent()` is true only
 *   while that moment is within the lease. A read that never returns (a half-dead peer, a
 *   black-holed network) stops confirming, so the lease lapses by itself; the read's own
 *   timeout then drops the connection and the follower reconnects.
 * - With each read it fetches the epoch key in the same round trip: a Redis that came back
 *   empty (the key is gone or different) emits `reset`, as does every reconnect and a
 *   batch that may have skipped trimmed entries.
 */

import { EventListeners } from "../event-listeners.js";
import type { StoreEvent, StoreEventFeed } from "../session-store.js";
import type { DedicatedConnection, RedisConnection, Reply } from "./redis-connection.js";
import { eventFromFields, fieldsOf } from "./redis-records.js";

const BATCH = 500;

export interface RedisEventFeedOptions {
  readonly connection: RedisConnection;
  readonly streamKey: string;
  readonly epochKey: string;
  readonly origin: string;
  readonly leaseMs: number;
  /** Makes sure an epoch exists and returns it (called after Redis came back empty). */
  readonly ensureEpoch: () => Promise<string>;
}

export class RedisEventFeed implements StoreEventFeed {
  readonly #options: RedisEventFeedOptions;
  readonly #listeners = new EventListeners();
  #connection: DedicatedConnection | null = null;
  #cursor = "0-0";
  #epoch: string;
  #confirmedAt = Number.NEGATIVE_INFINITY;
  #stopped = false;
  #running: Promise<void> | null = null;

  constructor(options: RedisEventFeedOptions) {
    this.#options = options;
    this.#epoch = "";
  }

  /** The epoch the store found or made at open; a different one later means Redis lost its data. */
  setEpoch(epoch: string): void {
    this.#epoch = epoch;
  }

  /** Connects and takes the log's newest entry as the cursor: older events were for others. */
  async start(): Promise<void> {
    this.#connection = await this.#options.connection.dedicated(this.#options.streamKey);
    this.#cursor = await this.#newestId(this.#connection);
    this.#confirmedAt = Date.now();
    this.#running = this.#loop();
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.#listeners.subscribe(listener);
  }

  isCurrent(): boolean {
    return !this.#stopped && Date.now() - this.#confirmedAt <= this.#options.leaseMs;
  }

  /** Emits the events of a write this process has just made. */
  emitLocal(events: readonly StoreEvent[]): void {
    if (events.length > 0) this.#listeners.emit(events);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#connection?.close();
    this.#connection = null;
    await this.#running;
  }

  async #newestId(connection: DedicatedConnection): Promise<string> {
    const reply = (await connection.send(
      ["XREVRANGE", this.#options.streamKey, "+", "-", "COUNT", "1"],
      this.#options.leaseMs,
    )) as [string, string[]][];
    return reply[0]?.[0] ?? "0-0";
  }

  async #loop(): Promise<void> {
    const { leaseMs } = this.#options;
    const block = Math.max(10, Math.floor(leaseMs / 3));
    while (!this.#stopped) {
      const connection = this.#connection;
      try {
        if (connection === null) {
          await this.#reconnect();
          continue;
        }
        const sentAt = Date.now();
        const [epoch, entries] = await Promise.all([
          connection.send(["GET", this.#options.epochKey], leaseMs),
          connection.send(
            [
              "XREAD",
              "COUNT",
              String(BATCH),
              "BLOCK",
              String(block),
              "STREAMS",
              this.#options.streamKey,
              this.#cursor,
            ],
            block + leaseMs,
          ),
        ]);
        if (this.#stopped) return;
        if (epoch !== this.#epoch) {
          // Redis lost its data (or was flushed): nothing cached can be trusted.
          this.#epoch = await this.#options.ensureEpoch();
          this.#cursor = await this.#newestId(connection);
          this.#confirmedAt = sentAt;
          this.#listeners.emit([{ kind: "reset" }]);
          continue;
        }
        const before = this.#cursor;
        const count = this.#deliver(entries);
        if (count === BATCH && (await this.#trimmedPast(connection, before))) {
          this.#listeners.emit([{ kind: "reset" }]);
        }
        this.#confirmedAt = sentAt;
      } catch {
        if (this.#stopped) return;
        // A failed or timed-out read: drop the connection; the lease lapses on its own.
        connection?.close();
        this.#connection = null;
      }
    }
  }

  async #reconnect(): Promise<void> {
    try {
      const connection = await this.#options.connection.dedicated(this.#options.streamKey);
      if (this.#stopped) {
        connection.close();
        return;
      }
      this.#connection = connection;
      // We may have missed anything while away (trimmed entries, a restart): start over.
      const epoch = (await connection.send(["GET", this.#options.epochKey], this.#options.leaseMs)) as
        | string
        | null;
      if (epoch !== this.#epoch) {
        this.#epoch = await this.#options.ensureEpoch();
        this.#cursor = await this.#newestId(connection);
      }
      this.#listeners.emit([{ kind: "reset" }]);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, this.#options.leaseMs / 4)));
    }
  }

  /** Emits the entries of an XREAD reply that are not our own; returns how many there were. */
  #deliver(reply: Reply): number {
    if (reply === null || typeof reply !== "object") return 0;
    // node-redis maps XREAD's reply to { [stream]: entries }; RESP2 without mapping is a list.
    const entries = (
      Array.isArray(reply)
        ? ((reply[0] as Reply[] | undefined)?.[1] ?? [])
        : (reply[this.#options.streamKey] ?? [])
    ) as [string, string[]][];
    for (const [id, fields] of entries) {
      this.#cursor = id;
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
      if (map.get("o") === this.#options.origin) continue;
      const event = eventFromFields(map);
      if (event !== null) this.#listeners.emit([event]);
    }
    return entries.length;
  }

  /** True when the stream was trimmed past `cursor` (entries we never read are gone). */
  async #trimmedPast(connection: DedicatedConnection, cursor: string): Promise<boolean> {
    const info = await connection.send(["XINFO", "STREAM", this.#options.streamKey], this.#options.leaseMs);
    const deleted = fieldsOf(info).get("max-deleted-entry-id");
    return deleted !== undefined && compareIds(deleted, cursor) > 0;
  }
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am === bm ? (as === bs ? 0 : as > bs ? 1 : -1) : am > bm ? 1 : -1;
}
