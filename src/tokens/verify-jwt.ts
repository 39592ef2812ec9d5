/**
 * Verifying an access JWT with `node:crypto` directly: a synchronous signature check on a
 * `KeyObject` imported once per key, with no WebCrypto round trip through the thread pool
 * and no per-token key import.
 *
 * What it refuses, in order (every failure is `token_invalid` except a token past its `exp`,
 * which is `token_expired`; no message repeats the token):
 * - anything but three base64url segments, a signing input outside ASCII, and a signature
 *   not in its canonical spelling (so one token has exactly one string form, and one cache
 *   key);
 * - a header that is not a JSON object, with no string `kid`, with a `kid` no verifying key
 *   has, with an `alg` other than that key's own (the key decides: `alg: none` and RS→HS
 *   confusion never reach a verifier), with a `typ` other than `at+jwt`, with a `crit`
 *   member (no extension is understood), or with `b64` other than true (RFC 7797 payloads);
 * - a bad signature;
 * - claims: not a JSON object, `iss` or `aud` not ours, a missing or mistyped `sub`, `sid`,
 *   `jti`, `username`, `iat`, `exp`; `nbf` in the future; `iat` in the future beyond the
 *   clock skew; a lifetime (`exp − iat`) beyond the configured access-token lifetime plus the
 *   skew (issue 11.16: a leaked key must not mint tokens for years ahead).
 */
import { TesseraError } from "../errors.js";
import { parseClaims, parseJsonObject } from "./claims-json.js";
import type { AccessClaims } from "./jwt.js";
import type { SigningKey } from "./keys.js";
import { signatureCheckFor } from "./signature-check.js";

export interface VerifyAccessOptions {
  readonly issuer: string;
  readonly audience: string | null;
  readonly clockToleranceSeconds: number;
  readonly now: number;
  /** Longest lifetime (`exp − iat`) accepted, before the tolerance. @default no limit */
  readonly maxLifetimeSeconds?: number;
}

function invalid(message: string): TesseraError {
  return new TesseraError("token_invalid", message);
}

/** Decoding room for a segment; a longer one gets its own buffer. */
const scratch = Buffer.allocUnsafeSlow(8192);

/**
 * The text a base64url segment encodes, as UTF-8, decoded into a buffer kept for the
 * purpose (UTF-8 decoding of ASCII, what a claims segment mostly is, is a one-pass copy).
 */
function decodeSegment(segment: string): string {
  if (segment.length > scratch.length) return Buffer.from(segment, "base64url").toString("utf8");
  return scratch.toString("utf8", 0, scratch.write(segment, 0, "base64url"));
}

/** RFC 8725 §3.11 `typ`, compared as media types are: case-insensitive, `application/` optional. */
function isAccessTyp(typ: unknown): boolean {
  if (typeof typ !== "string") return false;
  const lower = typ.toLowerCase();
  return lower === "at+jwt" || lower === "application/at+jwt";
}

/** What a header says that matters once it has passed the shape checks. */
interface Header {
  readonly kid: string;
  readonly alg: unknown;
}

/**
 * Headers already seen on a correctly signed token, by their encoded form: every token of
 * one key carries the same header, so decoding it again is waste. Only the shape checks are
 * cached; the key lookup and the `alg` comparison run on every token.
 */
const knownHeaders = new Map<string, Header>();
const KNOWN_HEADERS_MAX = 64;
/**
 * The header last remembered, compared first: `===` on a slice compares the characters
 * (no hash, as the map needs; `startsWith` on the token is slower than both).
 */
let recent: { readonly encoded: string; readonly header: Header } | undefined;

/** The header of `token`, whose first dot is at `first`. */
function readHeader(token: string, first: number): Header {
  const encoded = token.slice(0, first);
  if (recent !== undefined && recent.encoded === encoded) return recent.header;
  const known = knownHeaders.get(encoded);
  if (known !== undefined) return known;
  const header = parseJsonObject(decodeSegment(encoded));
  if (header === null) throw invalid("Malformed access token.");
  const { kid, alg } = header;
  if (typeof kid !== "string") throw invalid("Access token has no key id.");
  if (!isAccessTyp(header.typ)) throw invalid("The access token could not be verified.");
  if ("crit" in header || ("b64" in header && header.b64 !== true)) {
    throw invalid("The access token could not be verified.");
  }
  return { kid, alg };
}

/** Remembers the header of a token that verified (so its characters are ASCII). */
function rememberHeader(token: string, first: number, header: Header): void {
  if (recent?.header === header) return;
  // A copy: a slice would keep the whole token alive.
  const encoded = Buffer.from(token.slice(0, first), "latin1").toString("latin1");
  recent = { encoded, header };
  if (knownHeaders.has(encoded)) return;
  if (knownHeaders.size >= KNOWN_HEADERS_MAX) {
    const oldest = knownHeaders.keys().next();
    if (!oldest.done) knownHeaders.delete(oldest.value);
  }
  knownHeaders.set(encoded, header);
}

/**
 * Verifies `token` and returns its claims, or throws a `TesseraError`. `keyFor` answers the
 * key for a `kid` (undefined when none may verify now).
 */
export function verifyAccessTokenSync(
  token: string,
  keyFor: (kid: string) => SigningKey | undefined,
  options: VerifyAccessOptions,
): AccessClaims {
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first <= 0 || last === first || last === token.length - 1 || token.indexOf(".", first + 1) !== last) {
    throw invalid("Malformed access token.");
  }
  const header = readHeader(token, first);
  const key = keyFor(header.kid);
  if (key === undefined) throw invalid("Access token was signed with an unknown key.");
  if (header.alg !== key.alg) throw invalid("The access token could not be verified.");
  // The header and payload need no canonical check: the signature covers their exact
  // characters. The signature's own spelling is checked with it.
  if (!signatureCheckFor(key)(token.slice(0, last), token.slice(last + 1))) {
    throw invalid("The access token could not be verified.");
  }
  rememberHeader(token, first, header);

  const payload = parseClaims(decodeSegment(token.slice(first + 1, last)));
  if (payload === null) throw invalid("The access token could not be verified.");
  return checkClaims(payload, options);
}

/** The same check, as a promise (rejected on failure). */
export async function verifyAccessToken(
  token: string,
  keyFor: (kid: string) => SigningKey | undefined,
  options: VerifyAccessOptions,
): Promise<AccessClaims> {
  return verifyAccessTokenSync(token, keyFor, options);
}

const isTime = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

function checkClaims(payload: Record<string, unknown>, options: VerifyAccessOptions): AccessClaims {
  const { iss, aud, sub, sid, jti, username, iat, exp, nbf } = payload;
  if (iss !== options.issuer) throw invalid("The access token could not be verified.");
  if (options.audience !== null) {
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(options.audience)) throw invalid("The access token could not be verified.");
  }
  if (typeof sub !== "string" || typeof jti !== "string" || !isTime(iat) || !isTime(exp)) {
    throw invalid("The access token could not be verified.");
  }
  if (typeof sid !== "string" || typeof username !== "string") {
    throw invalid("Access token is missing Tessera claims.");
  }
  const now = Math.floor(options.now / 1000);
  const tolerance = options.clockToleranceSeconds;
  if (exp <= now - tolerance) throw new TesseraError("token_expired", "The access token has expired.");
  if (nbf !== undefined && (!isTime(nbf) || nbf > now + tolerance)) {
    throw invalid("The access token is not valid yet.");
  }
  if (iat > now + tolerance) throw invalid("The access token was issued in the future.");
  if (options.maxLifetimeSeconds !== undefined && exp - iat > options.maxLifetimeSeconds + tolerance) {
    throw invalid("The access token lives longer than this server issues tokens for.");
  }
  return payload as unknown as AccessClaims;
}

/**
 * Cheap shape check, for routing a credential: exactly two dots, none at the start. The
 * verifier refuses everything else a JWT can get wrong.
 */
export function looksLikeJwt(token: string): boolean {
  const first = token.indexOf(".");
  if (first <= 0) return false;
  const second = token.indexOf(".", first + 1);
  return second > first + 1 && token.indexOf(".", second + 1) === -1;
}
