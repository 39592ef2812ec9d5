/**
 * The in-memory view of the access-JWT denylist (`jti:<id>` for one upgraded or revoked
 * token, `sid:<id>` for every token of an ended session), so that checking a JWT never
 * waits on the store. Warmed from the store at start and kept current by store events;
 * entries drop once the tokens they cover have expired.
 */
import type { DenylistEntry } from "../stores/session-store.js";

export class Denylist {
  readonly #entries = new Map<string, number>();

  add(entry: DenylistEntry): void {
    const known = this.#entries.get(entry.id);
    if (known === undefined || known < entry.expiresAt) this.#entries.set(entry.id, entry.expiresAt);
  }

  /** True when the JWT with this `jti` and `sid` must be refused. */
  denies(jti: string, sid: string, now: number): boolean {
    return this.#live(`jti:${jti}`, now) || this.#live(`sid:${sid}`, now);
  }

  #live(id: string, now: number): boolean {
    const until = this.#entries.get(id);
    return until !== undefined && until > now;
  }

  prune(now: number): void {
    for (const [id, until] of this.#entries) if (until <= now) this.#entries.delete(id);
  }

  get size(): number {
    return this.#entries.size;
  }
}
