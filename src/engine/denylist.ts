/**
 * The in-memory view of the access-JWT denylist (`jti:<id>` for one upgraded or revoked
 * token, `sid:<id>` for every token of an ended session), so that checking a JWT never
 * waits on the store. Warmed from the store at start and kept current by store events;
 * entries drop once the tokens they cover have expired.
 */
import type { DenylistEntry } from "../stores/session-store.js";

export class Denylist {
  // One map per kind, keyed by the bare id: checking a JWT builds no strings.
  readonly #jtis = new Map<string, number>();
  readonly #sids = new Map<string, number>();
  /** Entries whose id has neither prefix: kept so `size` and pruning stay honest. */
  readonly #other = new Map<string, number>();

  add(entry: DenylistEntry): void {
    const [map, key] = this.#slot(entry.id);
    const known = map.get(key);
    if (known === undefined || known < entry.expiresAt) map.set(key, entry.expiresAt);
  }

  /** True when the JWT with this `jti` and `sid` must be refused. */
  denies(jti: string, sid: string, now: number): boolean {
    return live(this.#jtis, jti, now) || live(this.#sids, sid, now);
  }

  prune(now: number): void {
    for (const map of [this.#jtis, this.#sids, this.#other]) {
      for (const [id, until] of map) if (until <= now) map.delete(id);
    }
  }

  get size(): number {
    return this.#jtis.size + this.#sids.size + this.#other.size;
  }

  #slot(id: string): [Map<string, number>, string] {
    if (id.startsWith("jti:")) return [this.#jtis, id.slice(4)];
    if (id.startsWith("sid:")) return [this.#sids, id.slice(4)];
    return [this.#other, id];
  }
}

function live(map: Map<string, number>, id: string, now: number): boolean {
  if (map.size === 0) return false;
  const until = map.get(id);
  return until !== undefined && until > now;
}
