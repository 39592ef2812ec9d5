/**
 * The engine's public data shapes: what applications and surfaces receive. Times are
 * ISO-8601 UTC strings, as on the wire, so a value can be sent as it is.
 */
import type { JsonValue, SessionMetadata, SessionTokenType } from "../stores/session-store.js";

export type { JsonValue, SessionMetadata, SessionTokenType };

export interface PublicUser {
  readonly id: number;
  readonly uuid: string;
  readonly username: string;
}

export interface Session {
  readonly id: string;
  readonly userId: number;
  readonly deviceId: string | null;
  /** The name the client gave the device at login ("Ada's laptop"), if any. */
  readonly deviceName: string | null;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly expiresAt: string;
  /**
   * The absolute cap, fixed at login (`absoluteLifetimeSeconds` after it): refresh and
   * reissue move `expiresAt` up to it and no further.
   */
  readonly maxExpiresAt: string;
  /** When the user last proved who they are on this session (login, re-authentication). */
  readonly authenticatedAt: string;
  /** How: `pwd` for a password, a provider's name, `link` for a link. */
  readonly authMethods: readonly string[];
  readonly tokenType: SessionTokenType;
  readonly metadata: SessionMetadata;
  readonly data: JsonValue;
}

/** Returned by login, upgrade and refresh (contract: "A token pair"). */
export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly accessExpiration: string;
  readonly refreshExpiration: string;
  readonly tokenType: SessionTokenType;
  readonly sessionId: string;
  readonly user: PublicUser;
}

/** What `validate(token)` returns. */
export interface ValidatedSession {
  readonly session: Session;
  readonly user: PublicUser;
  /** Which credential was presented. */
  readonly credential: "jwt" | "session";
}

/** Which way into Tessera a request came: recorded on security events. */
export type Surface = "http" | "socket" | "grpc" | "cli" | "library";

/** Where a request came from; recorded on the session and on the security events it causes. */
export interface RequestMetadata {
  readonly userAgent?: string | null;
  readonly ipAddress?: string | null;
  /** @default the engine's `securityEvents.surface` ("library" unless configured) */
  readonly surface?: Surface;
}

/**
 * The kinds of the security log, a closed set (`engine/security-log.ts` records them).
 * `session_revoked` says why in `detail.reason` (`logout`, `logout_all`, `revoked`,
 * `device_replaced`, `refresh_token_reused`, `user_disabled`, …); `new_device` follows a
 * `login_succeeded` from a device or browser the user had not signed in from before.
 */
export type SecurityEventKind =
  | "login_succeeded"
  | "login_failed"
  | "new_device"
  | "session_created"
  | "session_refreshed"
  | "session_upgraded"
  | "session_revoked"
  | "link_issued"
  | "link_redeemed"
  | "key_rotated"
  | "password_changed"
  | "user_disabled"
  | "user_deleted"
  | "identity_linked"
  | "identity_unlinked";

/**
 * One entry of the security log as applications and `GET /auth/events` show it. Never a
 * password, token or hash: a user by id and username key, a client by address and agent.
 */
export interface SecurityEvent {
  /** Unique, increasing in time order; the paging cursor (`before`). */
  readonly id: string;
  readonly at: string;
  readonly kind: SecurityEventKind;
  readonly userId: number | null;
  readonly usernameKey: string | null;
  readonly sessionId: string | null;
  readonly surface: Surface | null;
  readonly ipAddress: string | null;
  readonly userAgent: string | null;
  /** What else matters: a revocation's `reason`, a link's `expiresAt`, a login's `provider`. */
  readonly detail: { readonly [key: string]: JsonValue };
}

/** Options of `Tessera.refresh`. */
export interface RefreshOptions {
  /** Where the request came from; its address feeds the token-guessing throttle. */
  readonly metadata?: RequestMetadata;
  /**
   * Only a refresh token of this session is accepted (a socket's in-band refresh); another
   * session's token is `token_invalid` and stays unspent.
   */
  readonly sessionId?: string | null;
}

export interface LoginInput {
  readonly username: string;
  readonly password: string;
  readonly deviceId?: string | null;
  /** A name for the device, shown in session lists; 1 to 64 characters. */
  readonly deviceName?: string | null;
  readonly metadata?: RequestMetadata;
  /** `jwt` (default, the HTTP flow) or `session` for a session token at once (gRPC CreateSession). */
  readonly tokenType?: SessionTokenType;
}

export interface StartSessionInput {
  readonly user: PublicUser;
  readonly deviceId?: string | null;
  /** A name for the device, shown in session lists; 1 to 64 characters. */
  readonly deviceName?: string | null;
  readonly metadata?: RequestMetadata;
  readonly data?: JsonValue;
  /** `jwt` (default) issues an access JWT; `session` issues a session token straight away. */
  readonly tokenType?: SessionTokenType;
  /** Which provider authenticated the user, for hooks and logs. @default "password" */
  readonly provider?: string;
  /**
   * How the user proved who they are, recorded on the session.
   * @default [`pwd`] for the password provider, else [the provider's name]
   */
  readonly authMethods?: readonly string[];
}
