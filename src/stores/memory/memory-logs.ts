/**
 * The parts of the memory store that are not about users and sessions: shared failure
 * counters, the security log and the webhook queue. Each is a plain synchronous structure
 * (no `await` inside an operation), so each operation is atomic for the same reason the
 * rest of `MemoryStore` is.
 */

import type {
  FailureCount,
  JsonValue,
  NewWebhookDelivery,
  SecurityEventQuery,
  SecurityEventRecord,
  WebhookDelivery,
} from "../session-store.js";

export class MemoryFailureCounters {
  readonly #counters = new Map<string, FailureCount>();

  record(key: string, now: number, forgetAfterMs: number): FailureCount {
    const current = this.read(key, now, forgetAfterMs);
    const next: FailureCount = { failures: (current?.failures ?? 0) + 1, lastFailureAt: now };
    this.#counters.set(key, next);
    return { ...next };
  }

  read(key: string, now: number, forgetAfterMs: number): FailureCount | null {
    const counter = this.#counters.get(key);
    if (counter === undefined || now - counter.lastFailureAt > forgetAfterMs) return null;
    return { ...counter };
  }

  clear(key: string): void {
    this.#counters.delete(key);
  }

  /**
   * Counters carry no expiry of their own (the forgetting window is the caller's), so
   * purging drops those untouched for a day, well past any sensible window.
   */
  purge(before: number): number {
    let removed = 0;
    for (const [key, counter] of this.#counters) {
      if (counter.lastFailureAt > before) continue;
      this.#counters.delete(key);
      removed += 1;
    }
    return removed;
  }
}

export class MemorySecurityLog {
  /** Kept sorted by id (ids increase in time order), oldest first. */
  readonly #events: SecurityEventRecord[] = [];
  readonly #ids = new Set<string>();

  append(event: SecurityEventRecord): void {
    if (this.#ids.has(event.id)) throw new Error("appendSecurityEvent: id already exists");
    const record = copyEvent(event);
    let at = this.#events.length;
    // Appends are almost always newest; walk back only past the few that are not.
    while (at > 0 && (this.#events[at - 1] as SecurityEventRecord).id > record.id) at -= 1;
    this.#events.splice(at, 0, record);
    this.#ids.add(record.id);
  }

  list(query: SecurityEventQuery): SecurityEventRecord[] {
    const found: SecurityEventRecord[] = [];
    const kinds = query.kinds === undefined ? null : new Set(query.kinds);
    for (let i = this.#events.length - 1; i >= 0 && found.length < query.limit; i--) {
      const event = this.#events[i] as SecurityEventRecord;
      if (query.beforeId !== undefined && event.id >= query.beforeId) continue;
      if (query.userId !== undefined && event.userId !== query.userId) continue;
      if (kinds !== null && !kinds.has(event.kind)) continue;
      if (query.since !== undefined && event.at < query.since) continue;
      if (query.until !== undefined && event.at >= query.until) continue;
      found.push(copyEvent(event));
    }
    return found;
  }

  prune(before: number, limit: number): number {
    let removed = 0;
    for (let i = 0; i < this.#events.length && removed < limit; ) {
      const event = this.#events[i] as SecurityEventRecord;
      if (event.at < before) {
        this.#events.splice(i, 1);
        this.#ids.delete(event.id);
        removed += 1;
      } else {
        i += 1;
      }
    }
    return removed;
  }
}

export class MemoryWebhookQueue {
  readonly #deliveries = new Map<string, WebhookDelivery>();
  /** `eventId endpoint` → delivery id: the uniqueness the interface promises. */
  readonly #byEventEndpoint = new Map<string, string>();

  enqueue(deliveries: readonly NewWebhookDelivery[]): void {
    // Checked first so that a clash of ids leaves the queue as it was.
    const fresh = deliveries.filter((d) => !this.#byEventEndpoint.has(uniqueKey(d)));
    for (const d of fresh) {
      if (this.#deliveries.has(d.id)) throw new Error("enqueueWebhooks: delivery id already exists");
    }
    for (const d of fresh) {
      const key = uniqueKey(d);
      if (this.#byEventEndpoint.has(key)) continue; // the same pair twice in one batch
      this.#deliveries.set(d.id, { ...d, attempts: 0 });
      this.#byEventEndpoint.set(key, d.id);
    }
  }

  claim(now: number, limit: number, leaseMs: number): WebhookDelivery[] {
    const due = [...this.#deliveries.values()]
      .filter((d) => d.nextAttemptAt <= now)
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt || compare(a.id, b.id))
      .slice(0, Math.max(0, limit));
    return due.map((d) => {
      const claimed: WebhookDelivery = { ...d, attempts: d.attempts + 1, nextAttemptAt: now + leaseMs };
      this.#deliveries.set(d.id, claimed);
      return { ...claimed };
    });
  }

  complete(id: string): void {
    const delivery = this.#deliveries.get(id);
    if (delivery === undefined) return;
    this.#deliveries.delete(id);
    this.#byEventEndpoint.delete(uniqueKey(delivery));
  }

  retry(id: string, nextAttemptAt: number): void {
    const delivery = this.#deliveries.get(id);
    if (delivery !== undefined) this.#deliveries.set(id, { ...delivery, nextAttemptAt });
  }
}

function copyEvent(event: SecurityEventRecord): SecurityEventRecord {
  return { ...event, detail: structuredClone(event.detail) as JsonValue };
}

function uniqueKey(delivery: NewWebhookDelivery): string {
  return `${delivery.eventId} ${delivery.endpoint}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
