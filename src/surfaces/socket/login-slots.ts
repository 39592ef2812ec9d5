/**
 * A gateway's bound on socket logins in flight. A login costs an argon2 verification (tens
 * of milliseconds, ~19 MiB); a socket is cheap to open, so without a bound one client could
 * open thousands and keep the hasher's queue full. Past the bound a login is refused at
 * once (`rate_limited`) instead of waiting: the socket closes and the client retries.
 */
export class LoginSlots {
  #inFlight = 0;

  constructor(readonly max: number) {}

  /** Takes a slot; false when all are taken. */
  tryTake(): boolean {
    if (this.#inFlight >= this.max) return false;
    this.#inFlight += 1;
    return true;
  }

  release(): void {
    if (this.#inFlight > 0) this.#inFlight -= 1;
  }

  get inFlight(): number {
    return this.#inFlight;
  }
}
