/**
 * The event feed of the SQLite store, which is how a revocation made by one process (the
 * management CLI, another server) reaches every other process sharing the file.
 *
 * Writers add a row to `events` in the transaction of the change. Every open store polls
 * for rows newer than the last it saw and emits them. Its own writes it emits at once,
 * right after they commit, and remembers their seqs so the poll does not emit them twice.
 * AUTOINCREMENT seqs are handed out under SQLite's single write lock, so they grow in
 * commit order and "seq > last seen" never skips a row that commits late.
 */

import { EventListeners } from "../event-listeners.js";
import type { StoreEvent, StoreEventFeed } from "../session-store.js";
import { type EventRow, eventFromRow } from "./sqlite-rows.js";
import type { Statements } from "./sqlite-statements.js";

const POLL_BATCH = 500;

export class SqliteEventFeed implements StoreEventFeed {
  readonly #statements: Pick<Statements, "eventsAfter" | "lastEventSeq">;
  readonly #listeners = new EventListeners();
  readonly #timer: NodeJS.Timeout;
  readonly #staleAfterMs: number;
  /** Seqs of rows this process wrote and already emitted, for the poll to skip. */
  readonly #localSeqs = new Set<number>();
  #lastSeq: number;
  #lastPollAt = Date.now();
  #lastPollFailed = false;
  #stopped = false;

  constructor(statements: Pick<Statements, "eventsAfter" | "lastEventSeq">, pollIntervalMs: number) {
    this.#statements = statements;
    // Missing a few polls is normal under load; ten in a row (and at least a second) is not.
    this.#staleAfterMs = Math.max(1000, 10 * pollIntervalMs);
    // Start from the newest row: older events were for the processes running back then.
    this.#lastSeq = statements.lastEventSeq.get()?.seq ?? 0;
    // unref: a feed nobody else keeps alive must not hold the process open.
    this.#timer = setInterval(() => this.poll(), pollIntervalMs).unref();
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.#listeners.subscribe(listener);
  }

  isCurrent(): boolean {
    return !this.#stopped && !this.#lastPollFailed && Date.now() - this.#lastPollAt <= this.#staleAfterMs;
  }

  /** Emits the events of a transaction this process has just committed. */
  emitCommitted(seqs: readonly number[], events: readonly StoreEvent[]): void {
    for (const seq of seqs) this.#localSeqs.add(seq);
    this.#listeners.emit(events);
  }

  /** Reads and emits the rows written since the last poll. Never throws: it runs on a timer. */
  poll(): void {
    if (this.#stopped) return;
    try {
      let rows: EventRow[];
      do {
        rows = this.#statements.eventsAfter.all(this.#lastSeq, POLL_BATCH);
        for (const row of rows) {
          this.#lastSeq = row.seq;
          if (this.#localSeqs.delete(row.seq)) continue;
          const event = eventFromRow(row);
          if (event !== null) this.#listeners.emit([event]);
        }
      } while (rows.length === POLL_BATCH && !this.#stopped);
      this.#lastPollAt = Date.now();
      this.#lastPollFailed = false;
    } catch {
      // isCurrent() now says false, and the engine fails closed until a poll succeeds.
      this.#lastPollFailed = true;
    }
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }
}
