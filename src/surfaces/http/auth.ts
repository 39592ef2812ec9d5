/**
 * Who is calling: the one piece of request authentication that the HTTP routes and the
 * Express, Fastify and Hono guards all share. It finds the credential (an
 * `Authorization: Bearer` token, else the `tessera_session` cookie), applies the CSRF rule
 * to cookie-authenticated requests that change state, and asks the engine to validate.
 *
 * CSRF rule: a browser attaches cookies to cross-site requests, so a state-changing
 * request (anything but GET, HEAD, OPTIONS) that is authenticated *by cookie* and that a
 * browser marks as coming from elsewhere is refused (`forbidden`). Let through: the
 * `X-Tessera-CSRF` header (any value; a cross-site page cannot set a custom header without
 * a CORS preflight this server never grants); `Sec-Fetch-Site: same-origin` or `none`; an
 * `Origin` (else `Referer`) naming this server's own origin or a trusted one; and a request
 * with none of these browser signals at all. That last case is the contract's "a browser
 * holding the session cookie is accepted" made usable by any client: every browser since
 * 2020 sends `Origin` (or `Sec-Fetch-Site`) on a cross-origin POST, PUT or DELETE, so a
 * request without them is not a forged cross-site one (the rule of Go's
 * `http.CrossOriginProtection`), and SameSite=Lax keeps older browsers' cross-site POSTs
 * cookie-less. Bearer requests are exempt: a browser never adds an Authorization header on
 * its own.
 *
 * Framework-free: each framework adapts its request to `AuthRequest`.
 */

import type { Tessera } from "../../engine/tessera.js";
import type { ValidatedSession } from "../../engine/types.js";
import { TesseraError } from "../../errors.js";
import { readCookie, SESSION_COOKIE } from "./cookies.js";

/** The header that marks a cookie-authenticated request as coming from a page of ours. */
export const CSRF_HEADER = "x-tessera-csrf";

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** The little of a request that authentication needs, whatever the framework. */
export interface AuthRequest {
  readonly method: string;
  /** A header's value by lower-case name (the first, if repeated). */
  header(name: string): string | undefined;
  /** `scheme://host[:port]` this server was reached at, for the Origin check; null if unknown. */
  readonly origin: string | null;
  /** The client's address, for the engine's token-guessing throttle. @default none: not throttled */
  readonly clientAddress?: string | null;
}

export interface Credential {
  readonly source: "bearer" | "cookie";
  readonly token: string;
}

/** What a guard puts on the request: the validated session, its user and how it was proved. */
export interface AuthContext extends ValidatedSession {
  /** Where the credential came from. */
  readonly via: "bearer" | "cookie";
}

export interface AuthOptions {
  /** Origins besides the server's own that may send cookie-authenticated state changes. @default [] */
  readonly trustedOrigins?: readonly string[];
  /**
   * Demand a recent proof of identity: a session whose user last proved who they are more
   * than this many seconds ago answers 403 `reauthentication_required` (the client should
   * ask for the password, `POST /auth/reauthenticate`, not sign out). @default no demand
   */
  readonly maxAge?: number;
}

/**
 * The request's credential, or null when it carries none. An Authorization header that is
 * not `Bearer <token>` is refused rather than ignored, so a client never silently falls
 * back to a cookie it did not mean to use.
 */
export function extractCredential(request: AuthRequest): Credential | null {
  const authorization = request.header("authorization");
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+)$/i.exec(authorization.trim());
    if (match?.[1] === undefined) {
      throw new TesseraError("token_invalid", "The Authorization header must be `Bearer <token>`.");
    }
    return { source: "bearer", token: match[1] };
  }
  const cookie = readCookie(request.header("cookie"), SESSION_COOKIE);
  return cookie === undefined || cookie === "" ? null : { source: "cookie", token: cookie };
}

/** Throws `forbidden` for a cookie-authenticated state change that a browser says came from elsewhere. */
export function checkCsrf(request: AuthRequest, credential: Credential, options: AuthOptions = {}): void {
  if (credential.source !== "cookie" || SAFE_METHODS.has(request.method.toUpperCase())) return;
  checkSameSite(request, options);
}

/**
 * The browser-signal half of `checkCsrf`, for a request that a page elsewhere could send
 * without a cookie mattering: a form post logging a visitor in (login CSRF). Throws
 * `forbidden` when the browser marks the request as coming from another site.
 */
export function checkSameSite(request: AuthRequest, options: AuthOptions = {}): void {
  const marker = request.header(CSRF_HEADER);
  if (marker !== undefined && marker !== "") return;
  // Set by the browser itself (a page's script cannot): the request came from our own pages,
  // or from the user (typed URL, bookmark).
  const site = request.header("sec-fetch-site");
  if (site === "same-origin" || site === "none") return;
  const origin = request.header("origin") ?? refererOrigin(request.header("referer"));
  if (origin !== undefined) {
    if (origin === request.origin || options.trustedOrigins?.includes(origin)) return;
  } else if (site === undefined) {
    // No browser signal at all: not a page's cross-site request.
    return;
  }
  throw new TesseraError(
    "forbidden",
    "This request must come from this site: send the X-Tessera-CSRF header, or a same-origin Origin header.",
  );
}

/** The origin a `Referer` names; "null" (matching nothing) when it is not a URL. */
function refererOrigin(referer: string | undefined): string | undefined {
  if (referer === undefined || referer === "") return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return "null";
  }
}

/**
 * The request's credential, CSRF-checked: what `authenticate` validates. Throws
 * `token_invalid` when there is none (or the Authorization header is malformed) and
 * `forbidden` for a cookie-authenticated change from another site.
 */
export function requireCredential(request: AuthRequest, options: AuthOptions = {}): Credential {
  const credential = extractCredential(request);
  if (credential === null) {
    throw new TesseraError(
      "token_invalid",
      "Authentication required: send `Authorization: Bearer <token>` or the tessera_session cookie.",
    );
  }
  checkCsrf(request, credential, options);
  return credential;
}

/** Finds, CSRF-checks and validates the request's credential. */
export async function authenticate(
  tessera: Tessera,
  request: AuthRequest,
  options: AuthOptions = {},
): Promise<AuthContext & { readonly token: string }> {
  const credential = requireCredential(request, options);
  const validated = await tessera.validate(
    credential.token,
    { ipAddress: request.clientAddress ?? null },
    options.maxAge === undefined ? {} : { maxAge: options.maxAge },
  );
  return { ...validated, via: credential.source, token: credential.token };
}
