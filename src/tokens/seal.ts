/**
 * Sealing the successor of a rotated refresh token.
 *
 * During the grace window, every refresh that presents the same (just rotated) token must
 * receive the *same* successor pair. Tokens are stored only as digests, so the pair is
 * kept encrypted (AES-256-GCM) under a key derived (HKDF-SHA256) from the presented token
 * itself: only a holder of that token can open it, and a database dump reveals nothing.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const INFO = Buffer.from("tessera refresh successor v1");

function keyFrom(token: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(token), Buffer.alloc(0), INFO, 32));
}

export function seal(token: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFrom(token), iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

/** The sealed text, or null when `token` is not the one it was sealed under. */
export function unseal(token: string, sealed: string): string | null {
  try {
    const raw = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", keyFrom(token), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}
