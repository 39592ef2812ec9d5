/**
 * Opaque tokens: `tss_` (session), `tsr_` (refresh), `tsl_` (link).
 *
 * Form: prefix + base64url(32 random bytes) (43 chars) + base64url(CRC32 of prefix+body)
 * (6 chars) = 53 characters. The checksum lets a mistyped or forged token be refused
 * without a store lookup and lets secret scanners recognise leaked tokens; the 256 random
 * bits are the secret. Only the SHA-256 digest of a token is ever stored.
 */

import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { oneShotHash } from "./one-shot-hash.js";

export const OPAQUE_PREFIXES = { session: "tss_", refresh: "tsr_", link: "tsl_" } as const;
export type OpaqueKind = keyof typeof OPAQUE_PREFIXES;

const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const OPAQUE_TOKEN_LENGTH = 4 + BODY_LENGTH + CHECKSUM_LENGTH;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64url of the big-endian CRC32 (6 characters), without a Buffer per call. */
function checksum(prefixAndBody: string): string {
  const crc = crc32(prefixAndBody) >>> 0;
  // 32 bits as 6 sextets: 6,6,6,6,6 and the last 2 bits padded with four zero bits.
  return (
    ALPHABET.charAt(crc >>> 26) +
    ALPHABET.charAt((crc >>> 20) & 63) +
    ALPHABET.charAt((crc >>> 14) & 63) +
    ALPHABET.charAt((crc >>> 8) & 63) +
    ALPHABET.charAt((crc >>> 2) & 63) +
    ALPHABET.charAt((crc & 3) << 4)
  );
}

/** A new random token of the given kind. */
export function generateOpaqueToken(kind: OpaqueKind): string {
  const head = OPAQUE_PREFIXES[kind] + randomBytes(32).toString("base64url");
  return head + checksum(head);
}

/** Which kind of opaque token `token` looks like, by prefix alone (no checksum check). */
export function opaqueKindOf(token: string): OpaqueKind | null {
  if (token.length < 4 || token.charCodeAt(3) !== 95 /* _ */) return null;
  switch (token.slice(0, 4)) {
    case OPAQUE_PREFIXES.session:
      return "session";
    case OPAQUE_PREFIXES.refresh:
      return "refresh";
    case OPAQUE_PREFIXES.link:
      return "link";
    default:
      return null;
  }
}

/**
 * Why a string is not a well-formed token of `kind`, or null when it is. The reasons are
 * safe to show: they never repeat the token.
 */
export function opaqueTokenProblem(token: string, kind: OpaqueKind): string | null {
  if (typeof token !== "string" || token.length !== OPAQUE_TOKEN_LENGTH) return "wrong length";
  if (!token.startsWith(OPAQUE_PREFIXES[kind])) return "wrong kind";
  if (!BASE64URL.test(token.slice(4))) return "not base64url";
  const head = token.slice(0, 4 + BODY_LENGTH);
  if (token.slice(4 + BODY_LENGTH) !== checksum(head)) return "bad checksum";
  return null;
}

// This digest is on the hot path of every session-token validation: the one-shot hash when
// this Node has it.
const oneShot = oneShotHash;

/** SHA-256 of the token, base64url: the only form in which a token is stored. */
export const digestToken: (token: string) => string =
  typeof oneShot === "function"
    ? (token) => oneShot("sha256", token, "base64url")
    : (token) => createHash("sha256").update(token).digest("base64url");

/**
 * The same digest as a 32-character latin1 string, one character per byte: the key of
 * in-memory indexes (48 bytes of V8 heap against 64 for the base64url text).
 */
export const digestKey: (token: string) => string =
  typeof oneShot === "function"
    ? (token) => oneShot("sha256", token, "binary")
    : (token) => createHash("sha256").update(token).digest().toString("latin1");

/** `digestKey` of a token from its stored `digestToken` form. */
export function digestKeyOf(digest: string): string {
  return Buffer.from(digest, "base64url").toString("latin1");
}
