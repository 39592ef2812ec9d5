/**
 * The `tessera_session` cookie: reading it from a `Cookie` header and writing the
 * `Set-Cookie` value (HttpOnly so page scripts cannot read it, SameSite=Lax so other sites'
 * POSTs do not carry it, Path=/, Secure when the request came over HTTPS). Written by hand
 * because the value is always a base64url token and the guards must not need a cookie
 * library of their framework.
 */

export const SESSION_COOKIE = "tessera_session";

/** The value of cookie `name` in a `Cookie` header (the first, if repeated). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

export interface CookieOptions {
  /** Adds `Secure`. */
  readonly secure: boolean;
  /** When the cookie should disappear; a session cookie otherwise. */
  readonly expires?: Date;
}

/** `Set-Cookie` value carrying a session token. */
export function sessionCookie(token: string, options: CookieOptions): string {
  const parts = [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, "Path=/", "HttpOnly", "SameSite=Lax"];
  if (options.expires !== undefined) parts.push(`Expires=${options.expires.toUTCString()}`);
  if (options.secure) parts.push("Secure");
  return parts.join("; ");
}

/** `Set-Cookie` value that removes the session cookie. */
export function clearedSessionCookie(options: { readonly secure: boolean }): string {
  return sessionCookie("", { ...options, expires: new Date(0) });
}
