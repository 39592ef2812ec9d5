/**
 * What every part of the conformance suite shares: the store under test (a fresh one per
 * test), the test's "now", and builders for valid records. Builders are plain functions
 * that read the current store at call time, so a part can destructure them once.
 */

import { randomBytes, randomUUID } from "node:crypto";
import type {
  CreateSessionInput,
  JsonValue,
  NewLink,
  NewUser,
  NewWebhookDelivery,
  RedeemLinkInput,
  RotateRefreshInput,
  SecurityEventRecord,
  SessionStore,
  SigningKeyRecord,
  StoreEvent,
  UpgradeSessionInput,
  UserRecord,
} from "../session-store.js";

export interface OpenedStore {
  /** A fresh, empty store. The suite closes it after each test. */
  readonly store: SessionStore;
  /** Opens the same data again, as a restarted process would; absent for stores that forget. */
  readonly reopen?: () => Promise<SessionStore>;
  /** Removes whatever `open` made (files, schemas); called after the store is closed. */
  readonly cleanup: () => Promise<void>;
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** How many callers race in the concurrency tests. */
export const RACERS = 20;

export const digest = (): string => randomBytes(32).toString("base64url");
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Listener {
  readonly events: StoreEvent[];
  readonly stop: () => void;
}

export function listen(store: SessionStore): Listener {
  const events: StoreEvent[] = [];
  const stop = store.events.subscribe((event) => events.push(event));
  return { events, stop };
}

/** Waits up to a second for a matching event; feeds that poll need a moment. */
export async function waitForEvent(
  events: readonly StoreEvent[],
  match: (event: StoreEvent) => boolean,
): Promise<StoreEvent> {
  const deadline = Date.now() + 1000;
  for (;;) {
    const found = events.find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("no matching event within 1 s");
    await sleep(5);
  }
}

export const revocationOf =
  (sessionId: string) =>
  (event: StoreEvent): boolean =>
    event.kind === "session_revoked" && event.sessionId === sessionId;

export const denialOf =
  (id: string) =>
  (event: StoreEvent): boolean =>
    event.kind === "denied" && event.entry.id === id;

export const updateOf =
  (sessionId: string) =>
  (event: StoreEvent): boolean =>
    event.kind === "session_updated" && event.sessionId === sessionId;

/**
 * True when the event tells a cache that `sessionId` (of `userId`) ended: one
 * `session_revoked`, or a `user_sessions_revoked` that does not keep it.
 */
export const endOf =
  (sessionId: string, userId: number) =>
  (event: StoreEvent): boolean =>
    (event.kind === "session_revoked" && event.sessionId === sessionId) ||
    (event.kind === "user_sessions_revoked" && event.userId === userId && event.keepSessionId !== sessionId);

export function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, got ${items.length}`);
  return items[0] as T;
}

export interface SessionOptions {
  readonly deviceId?: string | null;
  readonly deviceName?: string | null;
  readonly createdAt?: number;
  readonly expiresAt?: number;
  readonly maxExpiresAt?: number;
  readonly refreshExpiresAt?: number;
  readonly data?: JsonValue;
  readonly authMethods?: readonly string[];
}

interface Current {
  readonly opened: OpenedStore;
  readonly t0: number;
}

let eventSerial = 0;

/** A security-log id that sorts in time order, as the interface asks (time, then a serial). */
export function securityEventId(at: number): string {
  eventSerial += 1;
  return `${at.toString(36).padStart(10, "0")}-${eventSerial.toString(36).padStart(6, "0")}`;
}

export function securityEvent(at: number, overrides: Partial<SecurityEventRecord> = {}): SecurityEventRecord {
  return {
    id: securityEventId(at),
    at,
    kind: "login_failed",
    userId: null,
    usernameKey: null,
    sessionId: null,
    surface: "http",
    ipAddress: "192.0.2.7",
    userAgent: "conformance/1.0",
    detail: { reason: "invalid_credentials" },
    ...overrides,
  };
}

export function webhook(at: number, overrides: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery {
  return {
    id: randomUUID(),
    eventId: randomUUID(),
    endpoint: "https://hooks.example/tessera",
    payload: JSON.stringify({ kind: "session_revoked", n: digest() }),
    nextAttemptAt: at,
    createdAt: at,
    ...overrides,
  };
}

export class Fixture {
  #current: Current | null = null;

  /** Called by the suite before each test. */
  begin(opened: OpenedStore, t0: number): void {
    this.#current = { opened, t0 };
  }

  get opened(): OpenedStore {
    if (this.#current === null) throw new Error("the conformance fixture is used outside a test");
    return this.#current.opened;
  }

  get store(): SessionStore {
    return this.opened.store;
  }

  /** "Now" for each test; records are placed around it. */
  get t0(): number {
    if (this.#current === null) throw new Error("the conformance fixture is used outside a test");
    return this.#current.t0;
  }

  readonly newUser = (overrides: Partial<NewUser> = {}): NewUser => {
    const username = `User-${randomUUID()}`;
    return {
      uuid: randomUUID(),
      username,
      usernameKey: username.toLowerCase(),
      passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
      createdAt: this.t0,
      ...overrides,
    };
  };

  readonly addUser = async (target: SessionStore = this.store): Promise<UserRecord> => {
    const user = await target.createUser(this.newUser());
    if (user === null) throw new Error("could not create a user");
    return user;
  };

  readonly newSession = (userId: number, options: SessionOptions = {}): CreateSessionInput => {
    const id = randomUUID();
    const createdAt = options.createdAt ?? this.t0;
    const expiresAt = options.expiresAt ?? createdAt + DAY;
    return {
      session: {
        id,
        userId,
        deviceId: options.deviceId ?? null,
        deviceName: options.deviceName ?? null,
        createdAt,
        lastSeenAt: createdAt,
        expiresAt,
        maxExpiresAt: options.maxExpiresAt ?? Math.max(expiresAt, createdAt + 30 * DAY),
        authenticatedAt: createdAt,
        authMethods: options.authMethods ?? ["pwd"],
        tokenType: "jwt",
        metadata: { userAgent: "conformance/1.0", ipAddress: "192.0.2.7" },
        data: options.data ?? { role: "member" },
        sessionTokenHash: null,
      },
      refreshToken: {
        hash: digest(),
        sessionId: id,
        createdAt,
        expiresAt: options.refreshExpiresAt ?? expiresAt,
      },
    };
  };

  /** Creates a session; returns it with the digest of its first refresh token. */
  readonly addSession = async (userId: number, options: SessionOptions = {}) => {
    const input = this.newSession(userId, options);
    const { session } = await this.store.createSession(input);
    return { session, refreshHash: input.refreshToken.hash };
  };

  readonly rotation = (
    oldHash: string,
    options: { readonly now?: number; readonly sessionTokenHash?: string; readonly expiresAt?: number } = {},
  ): RotateRefreshInput => {
    const now = options.now ?? this.t0;
    const expiresAt = options.expiresAt ?? now + DAY;
    return {
      oldHash,
      successor: { hash: digest(), createdAt: now, expiresAt },
      sealedSuccessor: digest(),
      sessionTokenHash: options.sessionTokenHash ?? null,
      expiresAt,
      now,
    };
  };

  readonly upgrade = (
    sessionId: string,
    options: { readonly jti?: string; readonly now?: number } = {},
  ): UpgradeSessionInput => {
    const now = options.now ?? this.t0;
    return {
      sessionId,
      jti: options.jti ?? randomUUID(),
      jtiExpiresAt: now + 15 * MINUTE,
      sessionTokenHash: digest(),
      refreshToken: { hash: digest(), sessionId, createdAt: now, expiresAt: now + DAY },
      now,
    };
  };

  readonly newLink = (userId: number, overrides: Partial<NewLink> = {}): NewLink => ({
    hash: digest(),
    userId,
    issuedBySessionId: null,
    data: null,
    redirectTo: null,
    confirm: false,
    provider: null,
    deviceId: null,
    createdAt: this.t0,
    expiresAt: this.t0 + 15 * MINUTE,
    ...overrides,
  });

  /** What the engine passes to `redeemLink`: the link's session, built from a peek of it. */
  readonly redemption = (
    link: NewLink,
    now: number = this.t0,
    options: { readonly userId?: number } = {},
  ): RedeemLinkInput => {
    const input = this.newSession(options.userId ?? link.userId, {
      deviceId: link.deviceId,
      createdAt: now,
      data: link.data,
      authMethods: ["link"],
    });
    return {
      hash: link.hash,
      now,
      session: { ...input, session: { ...input.session, tokenType: "session", sessionTokenHash: digest() } },
    };
  };

  readonly signingKey = (overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
    kid: randomUUID(),
    alg: "EdDSA",
    privateJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", d: digest(), x: digest() }),
    publicJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: digest() }),
    createdAt: this.t0,
    retiredAt: null,
    ...overrides,
  });
}
