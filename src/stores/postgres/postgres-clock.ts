/**
 * The store clock of the PostgreSQL store: the server's `clock_timestamp()` estimated
 * locally, so every node agrees on grace windows, expiry and throttling windows even when
 * their own clocks disagree. Each event-feed read carries a sample; the offset is taken from
 * the sample with the shortest round trip among the recent ones (NTP's rule: the shortest
 * round trip bounds the error best, by half of it).
 */

const SAMPLES = 20;

export class ServerClock {
  readonly #samples: { offset: number; rtt: number }[] = [];
  #offset = 0;

  /** `serverNow` as read by a query sent at `sentAt` whose answer arrived at `receivedAt`. */
  sample(serverNow: number, sentAt: number, receivedAt: number): void {
    const rtt = Math.max(0, receivedAt - sentAt);
    this.#samples.push({ offset: serverNow - (sentAt + receivedAt) / 2, rtt });
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    let best = this.#samples[0];
    for (const s of this.#samples) if (best === undefined || s.rtt < best.rtt) best = s;
    if (best !== undefined) this.#offset = best.offset;
  }

  /** The estimated server time, in ms since the epoch. */
  readonly now = (): number => Math.round(Date.now() + this.#offset);

  /** Server time minus local time, as last estimated. */
  get offsetMs(): number {
    return this.#offset;
  }
}
