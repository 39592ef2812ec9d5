/**
 * Login throttling: after a few failures for one username or one IP address, further
 * attempts are refused with `rate_limited` (and a retry delay) *before* any password is
 * hashed, with a delay that doubles on every further failure. A success resets the
 * username's counter; the IP counter only decays, so that one valid account cannot be
 * used to reset the throttle while spraying passwords at others.
 *
 * The counters live in the store (`recordFailure`, atomic), so every node sharing it counts
 * the same failures: N nodes do not multiply the limits. A counter is `u:<usernameKey>` or
 * `ip:<address>`; the delay is derived from the count and the last failure's time, so
 * nothing else needs storing.
 */
import { TesseraError } from "../errors.js";
import type { FailureCount, SessionStore } from "../stores/session-store.js";

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

/** The counter of a name that can never be a user's: such attempts are throttled together. */
const INVALID_NAME_KEY = "x:invalid-username";

export class LoginThrottle {
  readonly #store: SessionStore;
  readonly #perUser: number;
  readonly #perIp: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #forgetMs: number;

  constructor(store: SessionStore, options: ThrottleOptions = {}) {
    this.#store = store;
    this.#perUser = options.maxFailuresPerUser ?? 5;
    this.#perIp = options.maxFailuresPerIp ?? 20;
    this.#baseMs = (options.baseDelaySeconds ?? 1) * 1000;
    this.#maxMs = (options.maxDelaySeconds ?? 900) * 1000;
    this.#forgetMs = (options.forgetAfterSeconds ?? 900) * 1000;
  }

  /** Rejects with `rate_limited` when either counter is blocked at `now`. `usernameKey` null: not a valid name. */
  async check(usernameKey: string | null, ip: string | null, now: number): Promise<void> {
    const [user, address] = await Promise.all([
      this.#store.readFailures(userCounter(usernameKey), now, this.#forgetMs),
      ip === null ? null : this.#store.readFailures(`ip:${ip}`, now, this.#forgetMs),
    ]);
    const wait = Math.max(this.#waitMs(user, this.#perUser, now), this.#waitMs(address, this.#perIp, now));
    if (wait > 0) {
      const retryAfterSeconds = Math.ceil(wait / 1000);
      throw new TesseraError(
        "rate_limited",
        `Too many failed logins; try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}.`,
        { retryAfterSeconds },
      );
    }
  }

  async failure(usernameKey: string | null, ip: string | null, now: number): Promise<void> {
    await Promise.all([
      this.#store.recordFailure(userCounter(usernameKey), now, this.#forgetMs),
      ip === null ? null : this.#store.recordFailure(`ip:${ip}`, now, this.#forgetMs),
    ]);
  }

  async success(usernameKey: string | null): Promise<void> {
    await this.#store.clearFailures(userCounter(usernameKey));
  }

  #waitMs(counter: FailureCount | null, limit: number, now: number): number {
    if (counter === null || counter.failures < limit) return 0;
    const delay = Math.min(this.#maxMs, this.#baseMs * 2 ** (counter.failures - limit));
    return Math.max(0, counter.lastFailureAt + delay - now);
  }
}

function userCounter(usernameKey: string | null): string {
  return usernameKey === null ? INVALID_NAME_KEY : `u:${usernameKey}`;
}
