/**
 * Engine options, with their defaults, and the resolved configuration the flows read.
 */
import { TesseraError } from "../errors.js";
import type { PasswordOptions } from "../passwords/password-hasher.js";
import type { SessionStore } from "../stores/session-store.js";
import { isSigningAlgorithm, type SigningAlgorithm } from "../tokens/keys.js";
import type { SecurityEventOptions } from "./security-log.js";
import type { ThrottleOptions } from "./throttle.js";
import type { TokenThrottleOptions } from "./token-throttle.js";

export interface JwtOptions {
  /**
   * The algorithm to sign with. For stored keys: when given and the active key is of
   * another algorithm, a new key of this one is made at start; when absent, the stored
   * active key is used as it is (EdDSA for the first key). @default the stored key's, else "EdDSA"
   */
  readonly algorithm?: SigningAlgorithm;
  /**
   * Whether opening the engine may create a stored key (none yet, or `algorithm` asks for
   * another). `false` for tools that share a running server's store (the CLI): they use
   * the keys as they are and never change them unless asked (`rotateKeys`). @default true
   */
  readonly manageStoredKeys?: boolean;
  /** HMAC secret for HS256/384/512 (at least 32 bytes). Not stored; every node must have it. */
  readonly secret?: string | Uint8Array;
  /** PKCS#8 PEM private key for an asymmetric algorithm. Not stored. */
  readonly privateKeyPem?: string;
  /** SPKI PEM public key matching `privateKeyPem` (derived from it when absent). */
  readonly publicKeyPem?: string;
}

export interface TesseraOptions {
  readonly store: SessionStore;
  /** `iss` of access JWTs. @default "tessera" */
  readonly issuer?: string;
  /** `aud` of access JWTs; checked when set. @default null */
  readonly audience?: string | null;
  /** @default 900 (15 minutes) */
  readonly accessTokenTtlSeconds?: number;
  /** Session lifetime; refresh extends a session by this much. @default 1209600 (14 days) */
  readonly sessionTtlSeconds?: number;
  /**
   * No session lives longer than this after its login, however often it is refreshed or
   * reissued (its `maxExpiresAt`). @default 2592000 (30 days)
   */
  readonly absoluteLifetimeSeconds?: number;
  /** Refreshes presenting one token within this window get the same successor; 0 disables. @default 10 */
  readonly refreshGraceSeconds?: number;
  /** Tolerated clock difference when checking JWT times. @default 30 */
  readonly clockSkewSeconds?: number;
  /** Largest session `data`, as JSON bytes. @default 1048576 */
  readonly maxSessionDataBytes?: number;
  /** Put `metadata { user_agent, ip_address }` in access JWTs. @default true */
  readonly jwtMetadata?: boolean;
  readonly jwt?: JwtOptions;
  readonly passwords?: PasswordOptions;
  /** Login throttling per username and IP; `false` turns it off. @default {} */
  readonly loginThrottle?: ThrottleOptions | false;
  /**
   * Refuses (`rate_limited`) a client address that keeps presenting unknown or forged tokens;
   * `false` turns it off. Counts only failures, in memory. @default {}
   */
  readonly tokenThrottle?: TokenThrottleOptions | false;
  /**
   * A session unused this long ends (`token_expired`); 0 turns the rule off. "Use" is any
   * validation, refresh or socket frame, on any surface or node. The default, 7 days, is
   * half the default session lifetime so that it bites for a device left alone, yet no
   * daily or weekly user is ever signed out: password-only login is NIST SP 800-63B AAL1,
   * where an inactivity timeout is optional (AAL2 deployments set 3600).
   * @default 604800
   */
  readonly idleTimeoutSeconds?: number;
  /**
   * Whether `register` (self-service, `POST /auth/register`) accepts new users; `closed`
   * answers `registration_closed`. `createUser` (the CLI's `users add`) works either way.
   * @default "open"
   */
  readonly registration?: "open" | "closed";
  /** How long a validated session stays in the in-process cache. @default 300 */
  readonly cacheTtlSeconds?: number;
  /** @default 100000 */
  readonly cacheMaxEntries?: number;
  /**
   * Milliseconds since the epoch. Replace only in tests.
   * @default the store's `clock` when it has one (shared stores), else Date.now
   */
  readonly clock?: () => number;
  /** The security log: default surface, retention, backlog (see `engine/security-log.ts`). @default {} */
  readonly securityEvents?: SecurityEventOptions;
  /** Where the engine reports problems it cannot return to a caller (a failing revoke hook). */
  readonly onBackgroundError?: (error: unknown, context: string) => void;
}

export interface ResolvedOptions {
  readonly issuer: string;
  readonly audience: string | null;
  readonly accessTtlMs: number;
  readonly sessionTtlMs: number;
  readonly absoluteLifetimeMs: number;
  readonly graceMs: number;
  readonly skewMs: number;
  readonly maxDataBytes: number;
  readonly jwtMetadata: boolean;
  readonly algorithm: SigningAlgorithm;
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
  /** 0 when the idle rule is off. */
  readonly idleTimeoutMs: number;
  /**
   * `lastSeenAt` is written at most this often per session and process: a tenth of the idle
   * timeout, between 1 s and 60 s. The idle rule allows for it (see `engine/idle.ts`).
   */
  readonly touchIntervalMs: number;
  readonly registration: "open" | "closed";
  /** Security events older than this are pruned; 0 keeps them. */
  readonly eventRetentionMs: number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`${name} must be a positive number, not ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be zero or more, not ${value}`);
  return value;
}

export function resolveOptions(options: TesseraOptions): ResolvedOptions {
  const algorithm = options.jwt?.algorithm ?? "EdDSA";
  if (!isSigningAlgorithm(algorithm)) {
    throw new TesseraError("invalid_request", `Unsupported JWT algorithm ${String(algorithm)}.`);
  }
  const idleTimeoutMs = nonNegative("idleTimeoutSeconds", options.idleTimeoutSeconds ?? 7 * 24 * 3600) * 1000;
  const registration = options.registration ?? "open";
  if (registration !== "open" && registration !== "closed") {
    throw new TypeError(`registration must be "open" or "closed", not ${String(registration)}`);
  }
  return {
    issuer: options.issuer ?? "tessera",
    audience: options.audience ?? null,
    accessTtlMs: positive("accessTokenTtlSeconds", options.accessTokenTtlSeconds ?? 900) * 1000,
    sessionTtlMs: positive("sessionTtlSeconds", options.sessionTtlSeconds ?? 14 * 24 * 3600) * 1000,
    absoluteLifetimeMs:
      positive("absoluteLifetimeSeconds", options.absoluteLifetimeSeconds ?? 30 * 24 * 3600) * 1000,
    graceMs: nonNegative("refreshGraceSeconds", options.refreshGraceSeconds ?? 10) * 1000,
    skewMs: nonNegative("clockSkewSeconds", options.clockSkewSeconds ?? 30) * 1000,
    maxDataBytes: positive("maxSessionDataBytes", options.maxSessionDataBytes ?? 1024 * 1024),
    jwtMetadata: options.jwtMetadata ?? true,
    algorithm,
    cacheTtlMs: positive("cacheTtlSeconds", options.cacheTtlSeconds ?? 300) * 1000,
    cacheMaxEntries: positive("cacheMaxEntries", options.cacheMaxEntries ?? 100_000),
    idleTimeoutMs,
    touchIntervalMs: idleTimeoutMs === 0 ? 60_000 : Math.min(60_000, Math.max(1000, idleTimeoutMs / 10)),
    registration,
    eventRetentionMs:
      nonNegative("securityEvents.retentionDays", options.securityEvents?.retentionDays ?? 90) * 86_400_000,
  };
}
