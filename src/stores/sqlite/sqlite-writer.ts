/**
 * How the SQLite store waits for the write lock without stopping the process.
 *
 * better-sqlite3 is synchronous: with a `busy_timeout`, a write that finds the file locked
 * by another process (the management CLI, another server) sleeps inside the driver, and the
 * whole event loop with it — cached token checks and `/livez` included. So after opening,
 * the store runs with `busy_timeout = 0`: a locked write fails at once with SQLITE_BUSY,
 * having written nothing (BEGIN IMMEDIATE takes the lock before any statement runs, and a
 * failed transaction rolls back), and this queue runs it again later on a timer, with
 * backoff, until it gets the lock or its deadline passes. Then it rejects, and the engine
 * answers `unavailable`.
 *
 * Writes of one process stay in call order: while one waits, later writes queue behind it
 * (they need the same lock) instead of overtaking it. When nothing waits, a write runs at
 * once, in the caller's tick, exactly as before. Reads never come here: in WAL mode they
 * read the last committed state whoever holds the write lock.
 */

/** How long a write may wait for the lock, and the clock that measures it. */
export interface LockWaitOptions {
  /** @default 5000 */
  readonly lockTimeoutMs: number;
  /** Milliseconds since the epoch; injectable for tests. @default Date.now */
  readonly now: () => number;
  /** Called each time a write finds the file locked, before it waits (logs, metrics, tests). */
  readonly onLockWait?: (() => void) | undefined;
}

/** The first wait after SQLITE_BUSY; each retry doubles it, up to the cap. */
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 25;

interface QueuedWrite {
  readonly attempt: () => unknown;
  readonly deadline: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Whether a driver error means "another connection holds the lock": retry, nothing was written. */
export function isLockBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

export class SqliteWriter {
  readonly #options: LockWaitOptions;
  readonly #queue: QueuedWrite[] = [];
  #timer: NodeJS.Timeout | null = null;
  #next: NodeJS.Immediate | null = null;
  #delayMs = FIRST_RETRY_MS;
  #closed = false;

  constructor(options: LockWaitOptions) {
    this.#options = options;
  }

  /**
   * Runs `attempt` (one whole transaction or statement; it must leave nothing behind when it
   * throws) once the write lock is free, in call order with the other writes of this store.
   */
  run<T>(attempt: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    const deadline = this.#options.now() + this.#options.lockTimeoutMs;
    if (this.#queue.length === 0) {
      try {
        return Promise.resolve(attempt());
      } catch (error) {
        if (!isLockBusy(error)) return Promise.reject(error);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ attempt, deadline, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queue.length === 1) this.#wait();
    });
  }

  /** Rejects every write still waiting. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#next !== null) clearImmediate(this.#next);
    this.#timer = null;
    this.#next = null;
    for (const write of this.#queue.splice(0)) write.reject(new Error("store is closed"));
  }

  /** The head of the queue found the file locked: try again after the next backoff step. */
  #wait(): void {
    this.#options.onLockWait?.();
    // Referenced, not unref'd: a caller is awaiting this write, so the process must stay up.
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#drain();
    }, this.#delayMs);
    this.#delayMs = Math.min(this.#delayMs * 2, MAX_RETRY_MS);
  }

  /** Runs the head of the queue; the next one runs in a later turn, so a backlog never hogs the loop. */
  #drain(): void {
    const write = this.#queue[0];
    if (write === undefined || this.#closed) return;
    try {
      write.resolve(write.attempt());
    } catch (error) {
      if (isLockBusy(error) && this.#options.now() < write.deadline) {
        this.#wait();
        return;
      }
      write.reject(isLockBusy(error) ? this.#timedOut(error) : error);
    }
    this.#queue.shift();
    this.#delayMs = FIRST_RETRY_MS;
    if (this.#queue.length > 0) {
      this.#next = setImmediate(() => {
        this.#next = null;
        this.#drain();
      });
    }
  }

  #timedOut(cause: unknown): Error {
    return new Error(
      `the SQLite database stayed locked by another connection for ${this.#options.lockTimeoutMs} ms`,
      { cause },
    );
  }
}
