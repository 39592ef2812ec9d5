/**
 * `checkSigningKey`: refuses, at start-up, a key that cannot sign what Tessera issues — an
 * RSA modulus under 2048 bits (RFC 7518 §3.3; JOSE libraries refuse to sign with it, so
 * every login would fail), an EC key whose curve is not the algorithm's, an Ed25519
 * algorithm on another key type — and proves the rest with a test signature verified by the
 * same verifier the engine uses. The message names the key (its `kid`) and the reason,
 * never key material.
 */
import { KeyObject } from "node:crypto";
import { TesseraError } from "../errors.js";
import { signAccessToken } from "./jwt.js";
import { isHmac, type SigningKey } from "./keys.js";
import { verifyAccessTokenSync } from "./verify-jwt.js";

export const MIN_RSA_MODULUS_BITS = 2048;

/** Throws `invalid_request` with a clear message when `key` cannot serve. */
export async function checkSigningKey(key: SigningKey, now: number): Promise<void> {
  const problem = shapeProblem(key) ?? (await signatureProblem(key, now));
  if (problem !== null) {
    throw new TesseraError(
      "invalid_request",
      `Signing key ${key.kid} (${key.alg}) cannot be used: ${problem}.`,
    );
  }
}

function shapeProblem(key: SigningKey): string | null {
  if (isHmac(key.alg)) return null; // secret length is checked where the secret is read
  let object: KeyObject;
  try {
    object = KeyObject.from(key.signingKey as Parameters<typeof KeyObject.from>[0]);
  } catch {
    return "it is not a private key";
  }
  const type = object.asymmetricKeyType;
  const details = object.asymmetricKeyDetails ?? {};
  switch (key.alg) {
    case "EdDSA":
      return type === "ed25519" ? null : `EdDSA needs an Ed25519 key, not ${type ?? "this key"}`;
    case "ES256":
      if (type !== "ec") return `ES256 needs an EC P-256 key, not ${type ?? "this key"}`;
      return details.namedCurve === "prime256v1"
        ? null
        : `ES256 needs the P-256 curve, not ${details.namedCurve ?? "an unknown curve"}`;
    case "RS256":
    case "PS256": {
      if (type !== "rsa" && type !== "rsa-pss")
        return `${key.alg} needs an RSA key, not ${type ?? "this key"}`;
      const bits = details.modulusLength ?? 0;
      return bits >= MIN_RSA_MODULUS_BITS
        ? null
        : `an RSA key needs at least ${MIN_RSA_MODULUS_BITS} bits, this one has ${bits}`;
    }
    case "HS256":
    case "HS384":
    case "HS512":
      return null;
    default:
      return key.alg satisfies never;
  }
}

async function signatureProblem(key: SigningKey, now: number): Promise<string | null> {
  const issuer = "tessera-key-check";
  try {
    const { token } = await signAccessToken(key, {
      issuer,
      audience: null,
      userUuid: "00000000-0000-4000-8000-000000000000",
      username: "key-check",
      sessionId: "key-check",
      now,
      ttlSeconds: 60,
      metadata: null,
    });
    verifyAccessTokenSync(token, (kid) => (kid === key.kid ? key : undefined), {
      issuer,
      audience: null,
      clockToleranceSeconds: 0,
      now,
    });
    return null;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `a test signature failed (${reason})`;
  }
}
