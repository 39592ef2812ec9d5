/**
 * Webhooks for chosen security-event kinds (`--webhook-url`, `--webhook-secret`,
 * `--webhook-events`). Delivery is at least once and never on the request's path:
 *
 * 1. When an event of a chosen kind has been stored, a delivery is enqueued in the store
 *    (`enqueueWebhooks`: one per event and endpoint however often it is enqueued), so it
 *    survives a restart or a crash of this node.
 * 2. A loop claims due deliveries with a lease (`claimWebhooks`: no other node, nor this one,
 *    gets the same delivery until the lease passes) and POSTs each, signed the Standard
 *    Webhooks way (`webhook-signature.ts`). A 2xx completes it; anything else (another
 *    status, a refused connection, a timeout) schedules a retry with exponential backoff and
 *    full jitter, until `maxAttempts` — then it is dropped and reported.
 * 3. A node that dies mid-delivery leaves its claim to expire; the next claimer sends again.
 *    Receivers deduplicate by `webhook-id`, which is the event's id on every attempt. A node
 *    that shuts down cleanly aborts what it is sending and hands it back at once.
 */
import { randomUUID } from "node:crypto";
import { toPublicEvent } from "../engine/security-log.js";
import type { Tessera } from "../engine/tessera.js";
import type { SecurityEvent, SecurityEventKind } from "../engine/types.js";
import type { SecurityEventRecord, SessionStore, WebhookDelivery } from "../stores/session-store.js";
import { signWebhook, webhookKey } from "./webhook-signature.js";

/** See `WebhookOptions.maxAttempts`. */
const DEFAULT_MAX_ATTEMPTS = 23;

/** Enqueues waiting for the store at once; more are dropped (and reported). */
const MAX_PENDING_ENQUEUES = 1000;

export interface WebhookOptions {
  readonly tessera: Tessera;
  /** Where deliveries queue: the engine's store. */
  readonly store: SessionStore;
  readonly url: string;
  readonly secret: string;
  /** Kinds to deliver; null for every kind. */
  readonly kinds: readonly SecurityEventKind[] | null;
  /** @default the engine's clock */
  readonly clock?: () => number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** How often due retries are looked for. @default 1000 */
  readonly pollIntervalMs?: number;
  /** How long a claim lasts before another claimer may send the delivery again. @default 60000 */
  readonly leaseMs?: number;
  /** A POST that takes longer is abandoned (and retried). @default 10000 */
  readonly timeoutMs?: number;
  /**
   * With the defaults below the backoff doubles from 1 s to its 6 h cap by the 16th
   * attempt, and the 23rd comes about a day after the first (full jitter: 16 to 35 hours
   * for nineteen deliveries in twenty) — a receiver down for a night still gets its events.
   * (12 gave up after 17 minutes on average: the cap was never reached.) @default 23
   */
  readonly maxAttempts?: number;
  /** @default 1000 */
  readonly baseDelayMs?: number;
  /** @default 21600000 (6 hours) */
  readonly maxDelayMs?: number;
  /** Deliveries claimed (and sent concurrently) per round. @default 16 */
  readonly batch?: number;
  /** 0 ≤ random < 1, for the jitter. @default Math.random */
  readonly random?: () => number;
  readonly reportError: (error: unknown, context: string) => void;
}

/** The JSON a receiver gets (Standard Webhooks' `type`, `timestamp`, `data`). */
export interface WebhookPayload {
  readonly type: string;
  readonly timestamp: string;
  /** The event as `GET /auth/events` shows it. */
  readonly data: SecurityEvent;
}

export class WebhookDispatcher {
  readonly #options: WebhookOptions;
  readonly #key: Buffer;
  readonly #clock: () => number;
  readonly #fetch: typeof fetch;
  readonly #stopListening: () => void;
  readonly #timer: NodeJS.Timeout;
  readonly #sending = new Map<string, AbortController>();
  #round: Promise<number> | null = null;
  /** The round to run once the current one ends. */
  #next: Promise<number> | null = null;
  #closed = false;
  #pending = new Set<Promise<void>>();
  #dropped = 0;

  constructor(options: WebhookOptions) {
    this.#options = options;
    this.#key = webhookKey(options.secret);
    this.#clock = options.clock ?? options.tessera.clock;
    this.#fetch = options.fetch ?? globalThis.fetch;
    const kinds = options.kinds === null ? null : new Set<string>(options.kinds);
    this.#stopListening = options.tessera.onSecurityEvent((event, stored) => {
      if (stored && (kinds === null || kinds.has(event.kind))) this.#enqueue(event);
    });
    this.#timer = setInterval(() => this.#kick(), options.pollIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /**
   * One round: claims what is due now and sends it; resolves with how many were claimed.
   * The loop runs rounds by itself; tests call this after moving the clock.
   */
  deliverDue(): Promise<number> {
    if (this.#round !== null) {
      // The running round claimed with an earlier clock, so what is due now needs one more
      // round after it; every call meanwhile shares that one.
      this.#next ??= this.#round
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          this.#next = null;
          return this.deliverDue();
        });
      return this.#next;
    }
    const round = this.#runRound().finally(() => {
      this.#round = null;
    });
    this.#round = round;
    return round;
  }

  /** Resolves once every enqueue started so far has reached the store (tests). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** Stops the loop; deliveries being sent are aborted and handed back for the next claimer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#stopListening();
    for (const controller of this.#sending.values()) controller.abort();
    await this.settled();
    await this.#round?.catch(() => undefined);
  }

  #kick(): void {
    if (this.#closed) return;
    this.deliverDue().catch((error: unknown) => this.#options.reportError(error, "webhook delivery"));
  }

  #enqueue(event: SecurityEventRecord): void {
    // A store that stops answering must not make waiting enqueues pile up without end.
    if (this.#pending.size >= MAX_PENDING_ENQUEUES) {
      this.#dropped += 1;
      if (this.#dropped === 1) {
        this.#options.reportError(
          new Error("the store is not keeping up; webhooks dropped"),
          "webhook enqueue",
        );
      }
      return;
    }
    this.#dropped = 0;
    const now = this.#clock();
    const payload: WebhookPayload = {
      type: event.kind,
      timestamp: new Date(event.at).toISOString(),
      data: toPublicEvent(event),
    };
    const work = this.#options.store
      .enqueueWebhooks([
        {
          id: randomUUID(),
          eventId: event.id,
          endpoint: this.#options.url,
          payload: JSON.stringify(payload),
          nextAttemptAt: now,
          createdAt: now,
        },
      ])
      .then(
        () => this.#kick(),
        (error: unknown) => this.#options.reportError(error, "webhook enqueue"),
      )
      .finally(() => this.#pending.delete(work));
    this.#pending.add(work);
  }

  async #runRound(): Promise<number> {
    if (this.#closed) return 0;
    const { store } = this.#options;
    const claimed = await store.claimWebhooks(
      this.#clock(),
      this.#options.batch ?? 16,
      this.#options.leaseMs ?? 60_000,
    );
    // Each delivery goes to the endpoint it was queued for.
    await Promise.all(claimed.map((delivery) => this.#deliver(delivery)));
    return claimed.length;
  }

  async #deliver(delivery: WebhookDelivery): Promise<void> {
    const { store, reportError } = this.#options;
    const controller = new AbortController();
    this.#sending.set(delivery.id, controller);
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs ?? 10_000);
    let outcome: "delivered" | "failed" | "aborted";
    let problem = "";
    try {
      const headers = signWebhook(this.#key, delivery.eventId, this.#clock() / 1000, delivery.payload);
      const response = await this.#fetch(delivery.endpoint, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "user-agent": "tessera-webhooks" },
        body: delivery.payload,
        signal: controller.signal,
        redirect: "manual",
      });
      await response.body?.cancel().catch(() => undefined);
      outcome = response.status >= 200 && response.status < 300 ? "delivered" : "failed";
      problem = `status ${response.status}`;
    } catch (error) {
      outcome = this.#closed ? "aborted" : "failed";
      problem = error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
      this.#sending.delete(delivery.id);
    }
    try {
      if (outcome === "delivered") await store.completeWebhook(delivery.id);
      else if (outcome === "aborted") await store.retryWebhook(delivery.id, this.#clock());
      else if (delivery.attempts >= (this.#options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)) {
        await store.completeWebhook(delivery.id);
        reportError(
          new Error(`gave up on event ${delivery.eventId} after ${delivery.attempts} attempts (${problem})`),
          "webhook delivery",
        );
      } else {
        await store.retryWebhook(delivery.id, this.#clock() + this.#backoff(delivery.attempts));
      }
    } catch (error) {
      // The lease runs out and the delivery is claimed again: at least once still holds.
      reportError(error, "webhook bookkeeping");
    }
  }

  /** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): random in [0, cap). */
  #backoff(attempts: number): number {
    const base = this.#options.baseDelayMs ?? 1000;
    const cap = Math.min(this.#options.maxDelayMs ?? 6 * 3600_000, base * 2 ** Math.max(0, attempts - 1));
    return Math.max(base / 2, Math.floor((this.#options.random ?? Math.random)() * cap));
  }
}

export function startWebhooks(options: WebhookOptions): WebhookDispatcher {
  return new WebhookDispatcher(options);
}
