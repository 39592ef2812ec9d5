/**
 * Fault injection in front of a real store: the network between a node and its store, not
 * a fake of the store. `cutFeed` stops revocations from reaching this node and takes away
 * its lease (what a follower that cannot read the log reports); `down` makes every store
 * call fail as an unreachable database does; `holdAfterRead` lets a read reach the store
 * and holds its answer back until released, to stage races between a read and a revocation.
 */
import type { SessionStore, StoreEvent, StoreEventFeed } from "../src/stores/session-store.js";

export interface FaultyStore {
  readonly store: SessionStore;
  /** Events stop arriving and `isCurrent()` turns false, until `restoreFeed`. */
  cutFeed(): void;
  restoreFeed(): void;
  /** Every operation rejects until `up`. */
  down(): void;
  up(): void;
  /**
   * The next call of `method` reads the store, then waits; resolves once the read is done,
   * with a function that lets its answer through.
   */
  holdAfterRead(method: keyof SessionStore): Promise<() => void>;
}

export function faulty(inner: SessionStore): FaultyStore {
  let feedCut = false;
  let isDown = false;
  const holds = new Map<string, (release: () => void) => void>();

  const events: StoreEventFeed = {
    subscribe(listener: (event: StoreEvent) => void) {
      return inner.events.subscribe((event) => {
        if (!feedCut) listener(event);
      });
    },
    isCurrent: () => !feedCut && inner.events.isCurrent(),
  };

  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "events") return events;
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (property === "close") return value.bind(target);
      return async (...args: unknown[]) => {
        if (isDown) throw new Error("connect ECONNREFUSED (injected)");
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const onHeld = holds.get(String(property));
        if (onHeld !== undefined) {
          holds.delete(String(property));
          await new Promise<void>((release) => onHeld(release));
        }
        if (isDown) throw new Error("connection lost (injected)");
        return result;
      };
    },
  });

  return {
    store,
    cutFeed: () => {
      feedCut = true;
    },
    restoreFeed: () => {
      feedCut = false;
    },
    down: () => {
      isDown = true;
    },
    up: () => {
      isDown = false;
    },
    holdAfterRead: (method) =>
      new Promise((resolve) => {
        holds.set(String(method), resolve);
      }),
  };
}
