/**
 * Throttling of token guessing: a client address that keeps presenting tokens that do not
 * exist or do not verify (`token_invalid`: unknown session, refresh or link tokens, forged
 * or mangled JWTs) is refused with `rate_limited` for a while, before any store lookup.
 *
 * Cheap by design, and away from the path of valid tokens: only failures are counted (a
 * valid token costs nothing here), a cached session token never reaches the check, and the
 * state is a bounded in-memory map — per process, on purpose: counting a failure in a
 * shared store would turn every guess into a write. Expired or revoked tokens are not
 * guesses (they were issued) and do not count.
 */
import { isTesseraError, TesseraError } from "../errors.js";

export interface TokenThrottleOptions {
  /** `token_invalid` answers to one address before it is refused. @default 30 */
  readonly maxFailures?: number;
  /** The first refusal lasts this long; it doubles with each further failure. @default 10 */
  readonly baseDelaySeconds?: number;
  /** @default 900 */
  readonly maxDelaySeconds?: number;
  /** An address's count is forgotten after this long without a failure. @default 60 */
  readonly forgetAfterSeconds?: number;
  /** Addresses tracked at once; the oldest is dropped past it. @default 50000 */
  readonly maxTracked?: number;
}

interface Counter {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
}

export class TokenThrottle {
  readonly #counters = new Map<string, Counter>();
  readonly #max: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #forgetMs: number;
  readonly #maxTracked: number;

  constructor(options: TokenThrottleOptions = {}) {
    this.#max = options.maxFailures ?? 30;
    this.#baseMs = (options.baseDelaySeconds ?? 10) * 1000;
    this.#maxMs = (options.maxDelaySeconds ?? 900) * 1000;
    this.#forgetMs = (options.forgetAfterSeconds ?? 60) * 1000;
    this.#maxTracked = options.maxTracked ?? 50_000;
  }

  /** Throws `rate_limited` while `address` is refused. */
  check(address: string, now: number): void {
    const counter = this.#counters.get(address);
    if (counter === undefined || counter.blockedUntil <= now) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((counter.blockedUntil - now) / 1000));
    throw new TesseraError(
      "rate_limited",
      `Too many invalid tokens from this address; try again in ${retryAfterSeconds} seconds.`,
      { retryAfterSeconds },
    );
  }

  failure(address: string, now: number): void {
    let counter = this.#counters.get(address);
    if (counter === undefined || now - counter.lastFailure > this.#forgetMs) {
      this.#counters.delete(address);
      if (this.#counters.size >= this.#maxTracked) {
        const oldest = this.#counters.keys().next();
        if (!oldest.done) this.#counters.delete(oldest.value);
      }
      counter = { failures: 0, lastFailure: now, blockedUntil: 0 };
    } else {
      // Re-inserted so that map order is least recently failing first (what gets dropped).
      this.#counters.delete(address);
    }
    this.#counters.set(address, counter);
    counter.failures++;
    counter.lastFailure = now;
    if (counter.failures >= this.#max) {
      counter.blockedUntil = now + Math.min(this.#maxMs, this.#baseMs * 2 ** (counter.failures - this.#max));
    }
  }

  /** How many addresses are tracked (for tests and metrics). */
  get size(): number {
    return this.#counters.size;
  }
}

/**
 * Runs a token check for a client: refused at once while the address is throttled, and a
 * `token_invalid` answer counted against it. Without a throttle or an address, just runs it.
 */
export async function guardTokenUse<T>(
  throttle: TokenThrottle | null,
  address: string | null | undefined,
  now: () => number,
  work: () => Promise<T>,
): Promise<T> {
  if (throttle === null || address === null || address === undefined || address === "") return work();
  throttle.check(address, now());
  try {
    return await work();
  } catch (error) {
    if (isTesseraError(error) && error.code === "token_invalid") throttle.failure(address, now());
    throw error;
  }
}
