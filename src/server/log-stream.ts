/**
 * `LogStream`: where the server's log lines go — a file descriptor (stdout), written
 * asynchronously in batches. A line is encoded into the batch's buffer as it comes; a
 * batch is written in one `fs.write` once it is full (`batchBytes`), or `flushMs` after
 * its first line, so a line never waits much longer than that; on exit whatever is left
 * is written synchronously.
 *
 * Why not pino's `destination()` (sonic-boom): it appends every line to a growing string
 * and measures that string's byte length on every line (flattening it each time), copies
 * it again after each write, and writes at most 16 KiB at a time: under load, ~2 µs per
 * line and a thread-pool round trip every few dozen lines. Here a line is copied once, into
 * memory outside the JavaScript heap (no string is kept for the garbage collector to move).
 *
 * Errors: `EAGAIN` (a non-blocking pipe that is full) is retried after `RETRY_MS`; `EPIPE`
 * (nobody reads the other end) drops the lines from then on, as pino does; any other error
 * is thrown, as sonic-boom's unhandled `error` event did.
 */
import { write as fsWrite, writeSync } from "node:fs";

/** How long a full pipe (`EAGAIN`) is given before the write is tried again. */
const RETRY_MS = 100;

export interface LogStreamOptions {
  /** @default 1 (stdout) */
  readonly fd?: number;
  /** A batch is written once this many bytes are waiting… */
  readonly batchBytes: number;
  /** …or this long after its first line, whichever comes first. */
  readonly flushMs: number;
}

export class LogStream {
  readonly #fd: number;
  readonly #batchBytes: number;
  readonly #flushMs: number;
  /** The batch being filled, and how much of it is. */
  #buffer: Buffer | null = null;
  #used = 0;
  /** Batches waiting for the write in flight. */
  #queue: Buffer[] = [];
  #writing = false;
  #broken = false;
  #timer: NodeJS.Timeout | null = null;
  /** Callbacks of `flush`, called once the batches queued before them are written. */
  #flushed: (() => void)[] = [];

  constructor(options: LogStreamOptions) {
    this.#fd = options.fd ?? 1;
    this.#batchBytes = options.batchBytes;
    this.#flushMs = options.flushMs;
    const ref = new WeakRef(this);
    live.add(ref);
    forget.register(this, ref);
  }

  /** Queues one line (pino's stream interface). */
  write(line: string): void {
    if (this.#broken) return;
    // A UTF-16 code unit is at most 3 bytes of UTF-8: the line fits, or the batch is sealed.
    const most = line.length * 3;
    if (this.#used + most > this.#batchBytes) this.#seal();
    if (most > this.#batchBytes) this.#queue.push(Buffer.from(line));
    else {
      this.#buffer ??= Buffer.allocUnsafe(this.#batchBytes);
      if (this.#used === 0) this.#timer ??= setTimeout(this.#onTimer, this.#flushMs).unref();
      this.#used += this.#buffer.write(line, this.#used);
    }
    if (this.#queue.length > 0 && !this.#writing) this.#writeQueued();
  }

  /** Writes every line written so far, then calls `done` (pino's `logger.flush(cb)` calls this). */
  flush(done: () => void = () => undefined): void {
    this.#seal();
    if (this.#broken || (this.#queue.length === 0 && !this.#writing)) {
      done();
      return;
    }
    this.#flushed.push(done);
    if (!this.#writing) this.#writeQueued();
  }

  /** Writes the waiting lines synchronously (on exit; a batch already in flight is the kernel's). */
  flushSync(): void {
    this.#seal();
    if (this.#broken) return;
    try {
      for (let bytes of this.#queue.splice(0)) {
        while (bytes.length > 0) bytes = bytes.subarray(writeSync(this.#fd, bytes));
      }
    } catch {
      // Exiting: nothing more can be done with a line that cannot be written.
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#seal();
    if (this.#queue.length > 0 && !this.#writing) this.#writeQueued();
  };

  /** The batch being filled joins the queue. */
  #seal(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#buffer === null || this.#used === 0) return;
    this.#queue.push(this.#buffer.subarray(0, this.#used));
    this.#buffer = null;
    this.#used = 0;
  }

  #writeQueued(): void {
    this.#writing = true;
    const batches = this.#queue;
    this.#queue = [];
    const waiting = this.#flushed;
    this.#flushed = [];
    this.#send(batches.length === 1 ? (batches[0] as Buffer) : Buffer.concat(batches), waiting);
  }

  #send(bytes: Buffer, waiting: (() => void)[]): void {
    fsWrite(this.#fd, bytes, 0, bytes.length, null, (error, written) => {
      if (error !== null) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" || code === "EBUSY") {
          setTimeout(() => this.#send(bytes, waiting), RETRY_MS).unref();
          return;
        }
        if (code === "EPIPE") {
          // Nobody reads the other end: lines are dropped from now on.
          this.#broken = true;
          this.#writing = false;
          this.#queue = [];
          this.#buffer = null;
          this.#used = 0;
          for (const done of [...waiting, ...this.#flushed]) done();
          this.#flushed = [];
          return;
        }
        throw error;
      }
      if (written < bytes.length) {
        this.#send(bytes.subarray(written), waiting);
        return;
      }
      for (const done of waiting) done();
      this.#writing = false;
      if (this.#queue.length > 0) this.#writeQueued();
      else {
        const flushed = this.#flushed;
        this.#flushed = [];
        for (const done of flushed) done();
      }
    });
  }
}

/** Every stream still reachable, for the exit handler (a stream nobody holds is not kept alive). */
const live = new Set<WeakRef<LogStream>>();
const forget = new FinalizationRegistry<WeakRef<LogStream>>((ref) => live.delete(ref));

process.on("exit", () => {
  for (const ref of live) ref.deref()?.flushSync();
});
