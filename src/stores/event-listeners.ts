/**
 * The listener half of a `StoreEventFeed`, shared by the stores: subscriptions, and emitting
 * an event to every listener without letting one broken listener affect the others.
 */
import type { StoreEvent } from "./session-store.js";

export class EventListeners {
  readonly #listeners = new Set<(event: StoreEvent) => void>();

  subscribe(listener: (event: StoreEvent) => void): () => void {
    // Wrapped so that subscribing one function twice gives two independent subscriptions.
    const wrapped = (event: StoreEvent): void => listener(event);
    this.#listeners.add(wrapped);
    return () => {
      this.#listeners.delete(wrapped);
    };
  }

  emit(events: readonly StoreEvent[]): void {
    for (const event of events) {
      for (const listener of [...this.#listeners]) {
        // A broken listener must neither hide the event from the others nor make the store
        // operation, which has already committed, look as if it failed (or crash a poll timer).
        try {
          listener(event);
        } catch {}
      }
    }
  }
}
