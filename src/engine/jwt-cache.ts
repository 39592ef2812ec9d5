/**
 * Verified access JWTs, so that the same token shown again costs one short digest and a map
 * lookup instead of a signature check. An entry is keyed by the SHA-256 of the first 43
 * characters of the token's signature (256 bits: one SHA-256 block, whatever the
 * algorithm) and keeps what it needs to be sure of the rest: the signing input (header and
 * claims, which are not secret) and the signature's remaining characters. A hit needs the
 * exact same token, so a payload altered under a known signature is a miss and goes to full
 * verification. The token itself is never held whole: the signature's head is only hashed.
 * Bounded: the oldest entry goes first; only verified tokens are added.
 */
import type { AccessClaims } from "../tokens/jwt.js";
import { digestToken } from "../tokens/opaque.js";

/** Characters of the signature that are hashed into the key (43 base64url chars = 256 bits). */
const HEAD = 43;

interface Entry {
  readonly claims: AccessClaims;
  readonly signingInput: string;
  readonly signatureTail: string;
}

export class JwtCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  /** The claims verified earlier for exactly this token, if any (expiry not checked). */
  get(token: string): AccessClaims | undefined {
    const dot = token.lastIndexOf(".");
    if (dot <= 0) return undefined;
    const entry = this.#entries.get(keyOf(token, dot));
    // `===` on a slice compares the characters in one pass (startsWith walks them slower).
    if (
      entry === undefined ||
      entry.signingInput.length !== dot ||
      entry.signingInput !== token.slice(0, dot) ||
      entry.signatureTail !== token.slice(dot + 1 + HEAD)
    ) {
      return undefined;
    }
    return entry.claims;
  }

  set(token: string, claims: AccessClaims): void {
    const dot = token.lastIndexOf(".");
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(keyOf(token, dot), {
      claims,
      signingInput: copy(token.slice(0, dot)),
      signatureTail: copy(token.slice(dot + 1 + HEAD)),
    });
  }

  /** Forgets every token (the store's feed reset: what was verified may since be revoked). */
  clear(): void {
    this.#entries.clear();
  }

  delete(token: string): void {
    const dot = token.lastIndexOf(".");
    if (dot > 0) this.#entries.delete(keyOf(token, dot));
  }

  /** Drops tokens that expired before `before` (epoch ms). */
  prune(before: number): void {
    for (const [key, entry] of this.#entries)
      if (entry.claims.exp * 1000 <= before) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/**
 * A string that shares nothing with `text`: V8 keeps a slice as a view of its parent, which
 * would keep the whole token alive in the heap. Tokens are ASCII (checked by verification).
 */
function copy(text: string): string {
  return Buffer.from(text, "latin1").toString("latin1");
}

function keyOf(token: string, dot: number): string {
  return digestToken(token.slice(dot + 1, dot + 1 + HEAD));
}
