/**
 * `FrameBucket`: the per-socket frame rate limit, a token bucket refilled continuously at
 * `perSecond` up to `burst`. A frame over the limit is refused (the connection answers a
 * `rate_limited` error frame); a client that keeps sending into an empty bucket — more
 * refused frames than `perSecond` before the bucket refills — is abusive and gets closed.
 *
 * Real time on purpose (`performance.now`), not the engine's clock: this protects the
 * process, whatever the application's notion of time.
 */
export interface FrameBucketOptions {
  readonly perSecond: number;
  readonly burst: number;
  readonly now?: () => number;
}

export type FrameVerdict = "accept" | "refuse" | "abuse";

/** One clock for every bucket (not a closure per socket). */
const realNow = (): number => performance.now();

export class FrameBucket {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxRefused: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  #refused = 0;

  constructor(options: FrameBucketOptions) {
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#maxRefused = Math.max(1, options.perSecond);
    this.#now = options.now ?? realNow;
    this.#tokens = options.burst;
    this.#last = this.#now();
  }

  take(): FrameVerdict {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens >= this.#burst) this.#refused = 0;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return "accept";
    }
    this.#refused += 1;
    return this.#refused > this.#maxRefused ? "abuse" : "refuse";
  }
}
