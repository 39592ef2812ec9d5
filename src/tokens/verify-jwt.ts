/**
 * Verifying an access JWT with `node:crypto` directly: a synchronous signature check on a
 * `KeyObject` imported once per key, with no WebCrypto round trip through the thread pool
 * and no per-token key import.
 *
 * What it refuses, in order (every failure is `token_invalid` except a token past its `exp`,
 * which is `token_expired`; no message repeats the token):
 * - anything but three base64url segments, and a signature not in its canonical spelling
 *   (so one token has exactly one string form, and one cache key);
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
import {
  createHmac,
  createSecretKey,
  KeyObject,
  constants as nodeConstants,
  timingSafeEqual,
  verify,
} from "node:crypto";
import { TesseraError } from "../errors.js";
import type { AccessClaims } from "./jwt.js";
import type { SigningAlgorithm, SigningKey } from "./keys.js";

export interface VerifyAccessOptions {
  readonly issuer: string;
  readonly audience: string | null;
  readonly clockToleranceSeconds: number;
  readonly now: number;
  /** Longest lifetime (`exp − iat`) accepted, before the tolerance. @default no limit */
  readonly maxLifetimeSeconds?: number;
}

/**
 * Checks the signature, in its encoded form, over `signingInput`. Only the canonical
 * base64url spelling of a valid signature passes (base64url leaves spare bits in the last
 * character: one token has exactly one string form, and one cache key).
 */
type SignatureCheck = (signingInput: string, signature: string) => boolean;

const checks = new WeakMap<SigningKey, SignatureCheck>();

/** The key's signature check, built once per key (the `KeyObject` import is the costly part). */
function checkFor(key: SigningKey): SignatureCheck {
  let check = checks.get(key);
  if (check === undefined) {
    check = buildCheck(key.alg, toKeyObject(key.verifyKey));
    checks.set(key, check);
  }
  return check;
}

function toKeyObject(material: SigningKey["verifyKey"]): KeyObject {
  if (material instanceof Uint8Array) return createSecretKey(material);
  return KeyObject.from(material);
}

function buildCheck(alg: SigningAlgorithm, key: KeyObject): SignatureCheck {
  switch (alg) {
    case "HS256":
    case "HS384":
    case "HS512": {
      if (key.type !== "secret") throw new TypeError(`${alg} needs a secret key`);
      return hmacCheck(`sha${alg.slice(2)}`, key);
    }
    case "EdDSA":
      expectType(alg, key, ["ed25519", "ed448"]);
      return publicKeyCheck(null, key);
    case "ES256": {
      expectType(alg, key, ["ec"]);
      if (key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
        throw new TypeError("ES256 needs a P-256 key");
      // 64 bytes, r ‖ s: exactly 86 characters.
      const check = publicKeyCheck("sha256", { key, dsaEncoding: "ieee-p1363" });
      return (input, signature) => signature.length === 86 && check(input, signature);
    }
    case "RS256":
      expectType(alg, key, ["rsa"]);
      return publicKeyCheck("sha256", key);
    case "PS256": {
      expectType(alg, key, ["rsa", "rsa-pss"]);
      return publicKeyCheck("sha256", {
        key,
        padding: nodeConstants.RSA_PKCS1_PSS_PADDING,
        saltLength: nodeConstants.RSA_PSS_SALTLEN_DIGEST,
      });
    }
    default: {
      const unknown: never = alg;
      throw new TypeError(`Unsupported algorithm ${String(unknown)}`);
    }
  }
}

/**
 * HMAC, compared in its encoded form: the expected MAC is spelled in base64url and both
 * spellings are compared in constant time as UTF-16 code units (so no character outside
 * ASCII can pass for one inside it). Equality with the canonical spelling is the canonical
 * check, and no signature is decoded. The two comparison buffers are the check's own.
 */
function hmacCheck(hash: string, key: KeyObject): SignatureCheck {
  const length = createHmac(hash, key).digest("base64url").length;
  const expected = Buffer.allocUnsafeSlow(2 * length);
  const presented = Buffer.allocUnsafeSlow(2 * length);
  return (input, signature) => {
    if (signature.length !== length) return false;
    expected.write(createHmac(hash, key).update(input).digest("base64url"), "utf16le");
    presented.write(signature, "utf16le");
    return timingSafeEqual(expected, presented);
  };
}

/** A public-key signature: decoded, refused unless canonically spelled, then verified. */
function publicKeyCheck(
  digest: "sha256" | null,
  key: KeyObject | Parameters<typeof verify>[2],
): SignatureCheck {
  return (input, encoded) => {
    const signature = Buffer.from(encoded, "base64url");
    if (signature.toString("base64url") !== encoded) return false;
    return verify(digest, Buffer.from(input), key, signature);
  };
}

function expectType(alg: SigningAlgorithm, key: KeyObject, types: readonly string[]): void {
  if (key.type !== "public" || !types.includes(key.asymmetricKeyType ?? "")) {
    throw new TypeError(`${alg} cannot verify with a ${key.asymmetricKeyType ?? key.type} key`);
  }
}

function invalid(message: string): TesseraError {
  return new TesseraError("token_invalid", message);
}

/** Decoding room for a segment; a longer one gets its own buffer. */
const scratch = Buffer.allocUnsafeSlow(8192);
const NOT_ASCII = /[\x80-\xff]/;

/**
 * The text a base64url segment encodes, as UTF-8 (what `Buffer.from(…).toString()` gives),
 * decoded into a buffer kept for the purpose: a claims segment is mostly ASCII, and an ASCII
 * string is the cheaper one to build and to `JSON.parse`.
 */
function decodeSegment(segment: string): string {
  if (segment.length > scratch.length) return Buffer.from(segment, "base64url").toString("utf8");
  const length = scratch.write(segment, 0, "base64url");
  const text = scratch.toString("latin1", 0, length);
  return NOT_ASCII.test(text) ? scratch.toString("utf8", 0, length) : text;
}

function parseSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(decodeSegment(segment));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
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

function readHeader(encoded: string): Header {
  const known = knownHeaders.get(encoded);
  if (known !== undefined) return known;
  const header = parseSegment(encoded);
  if (header === null) throw invalid("Malformed access token.");
  const { kid, alg } = header;
  if (typeof kid !== "string") throw invalid("Access token has no key id.");
  if (!isAccessTyp(header.typ)) throw invalid("The access token could not be verified.");
  if ("crit" in header || ("b64" in header && header.b64 !== true)) {
    throw invalid("The access token could not be verified.");
  }
  return { kid, alg };
}

function rememberHeader(encoded: string, header: Header): void {
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
  const headerPart = token.slice(0, first);
  const header = readHeader(headerPart);
  const key = keyFor(header.kid);
  if (key === undefined) throw invalid("Access token was signed with an unknown key.");
  if (header.alg !== key.alg) throw invalid("The access token could not be verified.");
  // The header and payload need no canonical check: the signature covers their exact
  // characters. The signature's own spelling is checked with it.
  if (!checkFor(key)(token.slice(0, last), token.slice(last + 1))) {
    throw invalid("The access token could not be verified.");
  }
  rememberHeader(headerPart, header);

  const payload = parseSegment(token.slice(first + 1, last));
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
