/**
 * Who is calling: the one piece of request authentication that the HTTP routes and the
 * Express, Fastify and Hono guards all share. It finds the credential (an
 * `Authorization: Bearer` token, else the `tessera_session` cookie), applies the CSRF rule
 * to cookie-authenticated requests that change state, and asks the engine to validate.
 *
 * CSRF rule: a browser attaches cookies to cross-site requests, so a state-changing
 * request (anything but GET, HEAD, OPTIONS) that is authenticated *by cookie* must also
 * carry either the `X-Tessera-CSRF` header (any value; a cross-site page cannot set a
 * custom header without a CORS preflight this server never grants) or an `Origin` header
 * naming this server's own origin or a trusted one. Bearer requests are exempt: a browser
 * never adds an Authorization header on its own. SameSite=Lax on the cookie is the first
 * line; this is the second.
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

/** Throws `forbidden` for a cookie-authenticated state change without CSRF proof. */
export function checkCsrf(request: AuthRequest, credential: Credential, options: AuthOptions = {}): void {
  if (credential.source !== "cookie" || SAFE_METHODS.has(request.method.toUpperCase())) return;
  const marker = request.header(CSRF_HEADER);
  if (marker !== undefined && marker !== "") return;
  const origin = request.header("origin");
  if (origin !== undefined && (origin === request.origin || options.trustedOrigins?.includes(origin))) return;
  throw new TesseraError(
    "forbidden",
    "A request authenticated by cookie that changes state needs the X-Tessera-CSRF header or a same-origin Origin header.",
  );
}

/** Finds, CSRF-checks and validates the request's credential. */
export async function authenticate(
  tessera: Tessera,
  request: AuthRequest,
  options: AuthOptions = {},
): Promise<AuthContext & { readonly token: string }> {
  const credential = extractCredential(request);
  if (credential === null) {
    throw new TesseraError(
      "token_invalid",
      "Authentication required: send `Authorization: Bearer <token>` or the tessera_session cookie.",
    );
  }
  checkCsrf(request, credential, options);
  const validated = await tessera.validate(credential.token);
  return { ...validated, via: credential.source, token: credential.token };
}
