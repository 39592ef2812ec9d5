/**
 * What the SDK sends and receives, as types only: the wire shapes are the engine's own
 * public types (`Session`, `TokenPair`, `PublicUser`), imported with `import type` so that
 * nothing of the server reaches a bundle.
 */
import type {
  JsonValue,
  PublicUser,
  SecurityEvent,
  SecurityEventKind,
  Session,
  TokenPair,
} from "../engine/types.js";

export type { JsonValue, PublicUser, SecurityEvent, SecurityEventKind, Session, TokenPair };

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

/** `GET /auth/events` (contract: "Account and session policy"). */
export interface EventPage {
  readonly events: readonly SecurityEvent[];
  /** Pass as `before` for the next, older page; absent on the last one. */
  readonly next?: string;
}

/** What `events()` asks for. */
export interface EventQuery {
  /** A page's `next`: only older events (undefined: the newest page). */
  readonly before?: string | undefined;
  /** 1 to 200. @default 50 */
  readonly limit?: number;
  /** Only these kinds. */
  readonly kinds?: readonly SecurityEventKind[];
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
