/**
 * Login throttling: after a few failures for one username or one IP address, further
 * attempts are refused with `rate_limited` (and a retry delay) *before* any password is
 * hashed, with a delay that doubles on every further failure. A success resets the
 * username's counter; the IP counter only decays, so that one valid account cannot be
 * used to reset the throttle while spraying passwords at others.
 *
 * State is per process; several nodes each throttle on their own.
 */
import { TesseraError } from "../errors.js";

export interface ThrottleOptions {
  /** Failures for one username before it is throttled. @default 5 */
  readonly maxFailuresPerUser?: number;
  /** Failures from one IP address before it is throttled. @default 20 */
  readonly maxFailuresPerIp?: number;
  /** First delay once throttled; doubles per further failure. @default 1 */
  readonly baseDelaySeconds?: number;
  /** @default 900 */
  readonly maxDelaySeconds?: number;
  /** Counters are forgotten after this long without a failure. @default 900 */
  readonly forgetAfterSeconds?: number;
}

interface Counter {
  failures: number;
  blockedUntil: number;
  lastFailure: number;
}

const MAX_TRACKED = 100_000;

export class LoginThrottle {
  readonly #counters = new Map<string, Counter>();
  readonly #perUser: number;
  readonly #perIp: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #forgetMs: number;

  constructor(options: ThrottleOptions = {}) {
    this.#perUser = options.maxFailuresPerUser ?? 5;
    this.#perIp = options.maxFailuresPerIp ?? 20;
    this.#baseMs = (options.baseDelaySeconds ?? 1) * 1000;
    this.#maxMs = (options.maxDelaySeconds ?? 900) * 1000;
    this.#forgetMs = (options.forgetAfterSeconds ?? 900) * 1000;
  }

  /** Throws `rate_limited` when either key is blocked at `now`. */
  check(usernameKey: string, ip: string | null, now: number): void {
    const wait = Math.max(
      this.#waitMs(`u:${usernameKey}`, now),
      ip === null ? 0 : this.#waitMs(`ip:${ip}`, now),
    );
    if (wait > 0) {
      const retryAfterSeconds = Math.ceil(wait / 1000);
      throw new TesseraError(
        "rate_limited",
        `Too many failed logins; try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}.`,
        { retryAfterSeconds },
      );
    }
  }

  failure(usernameKey: string, ip: string | null, now: number): void {
    this.#fail(`u:${usernameKey}`, this.#perUser, now);
    if (ip !== null) this.#fail(`ip:${ip}`, this.#perIp, now);
  }

  success(usernameKey: string): void {
    this.#counters.delete(`u:${usernameKey}`);
  }

  #waitMs(key: string, now: number): number {
    const counter = this.#counters.get(key);
    if (counter === undefined) return 0;
    if (now - counter.lastFailure > this.#forgetMs) {
      this.#counters.delete(key);
      return 0;
    }
    return Math.max(0, counter.blockedUntil - now);
  }

  #fail(key: string, limit: number, now: number): void {
    let counter = this.#counters.get(key);
    if (counter === undefined || now - counter.lastFailure > this.#forgetMs) {
      if (this.#counters.size >= MAX_TRACKED) this.#forgetOldest();
      counter = { failures: 0, blockedUntil: 0, lastFailure: now };
      this.#counters.set(key, counter);
    }
    counter.failures++;
    counter.lastFailure = now;
    if (counter.failures >= limit) {
      const delay = Math.min(this.#maxMs, this.#baseMs * 2 ** (counter.failures - limit));
      counter.blockedUntil = now + delay;
    }
  }

  #forgetOldest(): void {
    const oldest = this.#counters.keys().next();
    if (!oldest.done) this.#counters.delete(oldest.value);
  }
}
