/**
 * `FrameBucket`: the per-socket frame rate limit, a token bucket refilled continuously at
 * `perSecond` up to `burst`. A frame over the limit is refused (the connection answers a
 * `rate_limited` error frame); a client that keeps sending into an empty bucket — more
 * refused frames than `perSecond` before the bucket refills — is abusive and gets closed.
 *
 * Kept as the time the bucket is full again (the "theoretical arrival time" of GCRA, the
 * same limit as counting tokens): a socket holds that one number and a count of refused
 * frames; the rate itself is one `FrameRate` per gateway.
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

/** A gateway's frame limit, shared by its sockets' buckets. */
export class FrameRate {
  /** Time one frame's token takes to refill. */
  readonly intervalMs: number;
  /** How far ahead of now the full-again time may be and a frame still accepted: burst − 1 tokens. */
  readonly toleranceMs: number;
  readonly maxRefused: number;
  readonly now: () => number;

  constructor(options: FrameBucketOptions) {
    this.intervalMs = 1000 / options.perSecond;
    this.toleranceMs = (options.burst - 1) * this.intervalMs;
    this.maxRefused = Math.max(1, options.perSecond);
    this.now = options.now ?? realNow;
  }
}

export class FrameBucket {
  readonly #rate: FrameRate;
  /** When the bucket is full again; at or before now, it is full. */
  #fullAt = Number.NEGATIVE_INFINITY;
  #refused = 0;

  constructor(rate: FrameRate) {
    this.#rate = rate;
  }

  take(): FrameVerdict {
    const rate = this.#rate;
    const now = rate.now();
    if (this.#fullAt <= now) {
      this.#fullAt = now;
      this.#refused = 0;
    }
    if (this.#fullAt - now <= rate.toleranceMs) {
      this.#fullAt += rate.intervalMs;
      return "accept";
    }
    this.#refused += 1;
    return this.#refused > rate.maxRefused ? "abuse" : "refuse";
  }
}
