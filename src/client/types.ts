/**
 * What the SDK sends and receives, as types only: the wire shapes are the engine's own
 * public types (`Session`, `TokenPair`, `PublicUser`), imported with `import type` so that
 * nothing of the server reaches a bundle.
 */
import type { JsonValue, PublicUser, Session, TokenPair } from "../engine/types.js";

export type { JsonValue, PublicUser, Session, TokenPair };

/** `GET /auth/sessions`. */
export interface SessionList {
  readonly sessions: readonly Session[];
  readonly currentSessionId: string;
}

/** `POST /auth/links` body. */
export interface LinkRequest {
  readonly data?: JsonValue;
  readonly ttlSeconds?: number;
  /** A path on the server, or a URL on one of its allowed origins. */
  readonly redirectTo?: string;
  /** The link answers a browser with a page and a button; only that POST consumes it. */
  readonly confirm?: boolean;
}

export interface IssuedLink {
  readonly url: string;
  readonly expiresAt: string;
}

/** `GET /auth/links/:token` with `Accept: application/json`. */
export type RedeemedLink = TokenPair & { readonly session: Session };

/** A security event of `GET /auth/events` (contract: "Account and session policy"). */
export interface SecurityEvent {
  readonly type: string;
  readonly at: string;
  readonly [field: string]: JsonValue | undefined;
}

export interface EventPage {
  readonly events: readonly SecurityEvent[];
  readonly next?: string;
}

/** Who is signed in after a login, in either mode. */
export interface SignedIn {
  readonly user: PublicUser;
  readonly sessionId: string;
}

/** Why the client is no longer signed in. */
export type SignOutReason =
  | "logout"
  | "token_revoked"
  | "refresh_token_reused"
  | "token_invalid"
  | "token_expired"
  /** Another tab of this origin signed out. */
  | "other_tab";

export interface ClientEvents {
  /** The client holds no session any more (never fired twice for one session). */
  signedOut: { readonly reason: SignOutReason };
  /** A new token pair is in use (login, refresh, a socket's `tokens` frame, another tab). */
  tokens: { readonly pair: TokenPair };
}
