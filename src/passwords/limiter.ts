/**
 * A concurrency limiter with a short queue. Password hashing costs ~19 MiB and tens of
 * milliseconds each; without a cap a login flood would exhaust memory and starve every
 * other request of the thread pool. Past the queue, callers get `rate_limited` at once.
 */
import { TesseraError } from "../errors.js";

function busy(): TesseraError {
  return new TesseraError("rate_limited", "Too many logins in progress; try again shortly.", {
    retryAfterSeconds: 1,
  });
}

export class Limiter {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
  ) {
    if (!(concurrency >= 1)) throw new TypeError("concurrency must be at least 1");
  }

  /** True when `run` would refuse now: every slot busy and the queue full. */
  get full(): boolean {
    return this.#running >= this.concurrency && this.#waiting.length >= this.maxQueue;
  }

  /** Throws what `run` would throw now, without queueing anything. */
  refuseIfFull(): void {
    if (this.full) throw busy();
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      if (this.#waiting.length >= this.maxQueue) throw busy();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  get pending(): number {
    return this.#waiting.length;
  }
}
