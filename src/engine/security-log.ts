/**
 * The security log's recorder: every flow tells it what happened (`record`), and it appends
 * the event to the store *without* the flow waiting — a login never gets slower, and never
 * fails, because the audit trail is slow or down. The cost of that choice is bounded: at
 * most `maxInFlight` appends wait at once; past that, events are dropped and the loss is
 * reported through `onBackgroundError` (once per burst), as is every failed append.
 *
 * Ids are time-prefixed (`at` in base 36, then a per-process sequence, then random), so they
 * increase in time order — the store pages by them — and never collide across nodes.
 *
 * After a `login_succeeded` is stored, the recorder compares its device with the user's
 * earlier successful logins and records `new_device` when none matches. A user's very first
 * login is not a new device: there is nothing to alert about on the day an account is made.
 *
 * Listeners (`subscribe`) hear every event once its append has settled, stored or not:
 * metrics count them all; webhooks enqueue only stored ones.
 */
import { randomBytes } from "node:crypto";
import type { JsonValue, SecurityEventRecord, SessionStore } from "../stores/session-store.js";
import { deviceFamily } from "./device-family.js";
import type { RequestMetadata, SecurityEvent, SecurityEventKind, Surface } from "./types.js";

/** Every kind, for validating filters (`?kind=`, `--kind`). */
export const SECURITY_EVENT_KINDS = [
  "login_succeeded",
  "login_failed",
  "new_device",
  "session_created",
  "session_refreshed",
  "session_upgraded",
  "session_revoked",
  "link_issued",
  "link_redeemed",
  "key_rotated",
  "password_changed",
  "user_disabled",
  "user_deleted",
  "identity_linked",
  "identity_unlinked",
] as const satisfies readonly SecurityEventKind[];

// A kind added to the union but not to the list fails to compile here.
type Missing = Exclude<SecurityEventKind, (typeof SECURITY_EVENT_KINDS)[number]>;
const complete: Missing extends never ? true : never = true;
void complete;

export function isSecurityEventKind(value: string): value is SecurityEventKind {
  return (SECURITY_EVENT_KINDS as readonly string[]).includes(value);
}

/** How many earlier logins `new_device` compares against. */
const DEVICE_LOOKBACK = 100;

export interface SecurityEventOptions {
  /** The surface of events whose request did not name one (the CLI sets `cli`). @default "library" */
  readonly surface?: Surface;
  /** Events older than this many days are pruned by the engine's maintenance; 0 keeps them. @default 90 */
  readonly retentionDays?: number;
  /** Appends waiting at once before new events are dropped (and the loss reported). @default 1000 */
  readonly maxInFlight?: number;
}

/** What a flow tells the recorder. */
export interface SecurityEventInput {
  readonly kind: SecurityEventKind;
  readonly userId?: number | null;
  readonly usernameKey?: string | null;
  readonly sessionId?: string | null;
  readonly metadata?: RequestMetadata | undefined;
  readonly detail?: { readonly [key: string]: JsonValue };
}

export type SecurityEventListener = (event: SecurityEventRecord, stored: boolean) => void;

export class SecurityLog {
  readonly #store: SessionStore;
  readonly #now: () => number;
  readonly #report: (error: unknown, context: string) => void;
  readonly #surface: Surface;
  readonly #maxInFlight: number;
  readonly #listeners = new Set<SecurityEventListener>();
  #inFlight = 0;
  #dropped = 0;
  #idle: (() => void)[] = [];
  #lastAt = 0;
  #sequence = 0;

  constructor(options: {
    readonly store: SessionStore;
    readonly now: () => number;
    readonly reportError: (error: unknown, context: string) => void;
    readonly surface: Surface;
    readonly maxInFlight: number;
  }) {
    this.#store = options.store;
    this.#now = options.now;
    this.#report = options.reportError;
    this.#surface = options.surface;
    this.#maxInFlight = options.maxInFlight;
  }

  /** Records an event in the background; never throws, never waits. */
  record(input: SecurityEventInput): void {
    try {
      this.#start(this.#build(input));
    } catch (error) {
      this.#report(error, "security event");
    }
  }

  /** Called with every event once its append settled; returns a function that stops. */
  subscribe(listener: SecurityEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once no append is waiting (tests; shutdown, so that the last events are kept). */
  settled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #build(input: SecurityEventInput): SecurityEventRecord {
    const at = this.#now();
    const metadata = input.metadata;
    return {
      id: this.#nextId(at),
      at,
      kind: input.kind,
      userId: input.userId ?? null,
      usernameKey: input.usernameKey ?? null,
      sessionId: input.sessionId ?? null,
      surface: metadata?.surface ?? this.#surface,
      ipAddress: clip(metadata?.ipAddress ?? null, 64),
      userAgent: clip(metadata?.userAgent ?? null, 512),
      detail: input.detail ?? {},
    };
  }

  /** Time (9 base-36 digits), a sequence for events in one millisecond, then 12 random hex. */
  #nextId(at: number): string {
    // A clock that steps back must not make a later event sort earlier in this process.
    if (at > this.#lastAt) {
      this.#lastAt = at;
      this.#sequence = 0;
    } else {
      this.#sequence += 1;
    }
    const time = Math.max(0, Math.floor(this.#lastAt)).toString(36).padStart(9, "0");
    const sequence = this.#sequence.toString(36).padStart(4, "0");
    return `${time}${sequence}${randomBytes(6).toString("hex")}`;
  }

  #start(record: SecurityEventRecord): void {
    if (this.#inFlight >= this.#maxInFlight) {
      this.#dropped += 1;
      if (this.#dropped === 1) {
        this.#report(new Error("the store is not keeping up; dropping security events"), "security event");
      }
      this.#notify(record, false);
      return;
    }
    if (this.#dropped > 0) {
      this.#report(new Error(`${this.#dropped} security events were dropped`), "security event");
      this.#dropped = 0;
    }
    this.#inFlight += 1;
    this.#append(record).finally(() => {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) {
        const waiting = this.#idle;
        this.#idle = [];
        for (const resolve of waiting) resolve();
      }
    });
  }

  async #append(record: SecurityEventRecord): Promise<void> {
    try {
      await this.#store.appendSecurityEvent(record);
    } catch (error) {
      this.#report(error, "security event");
      this.#notify(record, false);
      return;
    }
    this.#notify(record, true);
    if (record.kind === "login_succeeded") {
      await this.#checkDevice(record).catch((error: unknown) => this.#report(error, "new device check"));
    }
  }

  async #checkDevice(login: SecurityEventRecord): Promise<void> {
    const device = deviceOf(login.detail);
    if (device === null || login.userId === null) return;
    const earlier = await this.#store.listSecurityEvents({
      userId: login.userId,
      kinds: ["login_succeeded"],
      beforeId: login.id,
      limit: DEVICE_LOOKBACK,
    });
    if (earlier.length === 0 || earlier.some((event) => deviceOf(event.detail) === device)) return;
    const event: SecurityEventRecord = { ...this.#build({ kind: "new_device" }), ...deviceEventOf(login) };
    try {
      await this.#store.appendSecurityEvent(event);
    } catch (error) {
      this.#report(error, "security event");
      this.#notify(event, false);
      return;
    }
    this.#notify(event, true);
  }

  #notify(record: SecurityEventRecord, stored: boolean): void {
    for (const listener of this.#listeners) {
      try {
        listener(record, stored);
      } catch (error) {
        this.#report(error, "security event listener");
      }
    }
  }
}

/** The login's who and where, carried over to its `new_device` event. */
function deviceEventOf(login: SecurityEventRecord): Partial<SecurityEventRecord> {
  const detail = login.detail as { [key: string]: JsonValue };
  return {
    userId: login.userId,
    usernameKey: login.usernameKey,
    sessionId: login.sessionId,
    surface: login.surface,
    ipAddress: login.ipAddress,
    userAgent: login.userAgent,
    detail: { device: detail.device ?? null, deviceLabel: detail.deviceLabel ?? null },
  };
}

function deviceOf(detail: JsonValue): string | null {
  if (detail === null || typeof detail !== "object" || Array.isArray(detail)) return null;
  const device = detail.device;
  return typeof device === "string" ? device : null;
}

/** The `device` and `deviceLabel` a `login_succeeded` carries, for `new_device`. */
export function deviceDetail(
  deviceId: string | null,
  userAgent: string | null,
): { [key: string]: JsonValue } {
  const found = deviceFamily(deviceId, userAgent);
  return found === null ? {} : { device: found.fingerprint, deviceLabel: found.label };
}

function clip(value: string | null, max: number): string | null {
  return value === null ? null : value.slice(0, max);
}

/** A stored event as the API shows it (ISO time; the kind and surface as recorded). */
export function toPublicEvent(record: SecurityEventRecord): SecurityEvent {
  const detail = record.detail;
  return {
    id: record.id,
    at: new Date(record.at).toISOString(),
    kind: record.kind as SecurityEventKind,
    userId: record.userId,
    usernameKey: record.usernameKey,
    sessionId: record.sessionId,
    surface: record.surface as Surface | null,
    ipAddress: record.ipAddress,
    userAgent: record.userAgent,
    detail: detail !== null && typeof detail === "object" && !Array.isArray(detail) ? detail : {},
  };
}
