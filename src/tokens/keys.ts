/**
 * Signing keys for access JWTs: generation, import from JWK, PEM or an HMAC secret, and
 * the public JWKS. Pure: persistence is the engine's key ring (`engine/key-ring.ts`).
 *
 * Each key knows its algorithm; verification uses that algorithm and never the one a
 * token's header names (the classic `alg: none` / RS→HS confusion attacks).
 */
import { createHash, randomUUID } from "node:crypto";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  generateSecret,
  importJWK,
  importPKCS8,
  importSPKI,
  type JWK,
} from "jose";
import { TesseraError } from "../errors.js";

export const SIGNING_ALGORITHMS = ["EdDSA", "ES256", "RS256", "PS256", "HS256", "HS384", "HS512"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** Minimum HMAC secret length, in bytes (RFC 7518 §3.2 asks for at least the hash size). */
export const MIN_HMAC_SECRET_BYTES = 32;

export function isSigningAlgorithm(value: string): value is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

export function isHmac(alg: SigningAlgorithm): boolean {
  return alg.startsWith("HS");
}

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly signingKey: CryptoKey | Uint8Array;
  readonly verifyKey: CryptoKey | Uint8Array;
  /** Public JWK with `kid`, `alg` and `use`; null for HMAC secrets, which are never published. */
  readonly publicJwk: JWK | null;
  readonly createdAt: number;
  /** When it stopped signing; null while active. */
  readonly retiredAt: number | null;
}

/** A key in the form a store keeps it. */
export interface SerializedKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateJwk: string;
  readonly publicJwk: string | null;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

/** The public members of a JWK (drops every private or secret member). */
function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, oth: _oth, ...pub } = jwk;
  return pub;
}

function publish(jwk: JWK, kid: string, alg: SigningAlgorithm): JWK {
  return { ...publicPart(jwk), kid, alg, use: "sig" };
}

/** A fresh key for `alg`, with a random `kid`. */
export async function generateSigningKey(
  alg: SigningAlgorithm,
  now: number,
): Promise<{ key: SigningKey; serialized: SerializedKey }> {
  const kid = randomUUID();
  if (isHmac(alg)) {
    const jwk = await exportJWK(await generateSecret(alg, { extractable: true }));
    const serialized = {
      kid,
      alg,
      privateJwk: JSON.stringify(jwk),
      publicJwk: null,
      createdAt: now,
      retiredAt: null,
    };
    return { key: await deserializeSigningKey(serialized), serialized };
  }
  const pair = await generateKeyPair(alg, { extractable: true });
  const privateJwk = await exportJWK(pair.privateKey);
  const publicJwk = publish(await exportJWK(pair.publicKey), kid, alg);
  return {
    key: {
      kid,
      alg,
      signingKey: pair.privateKey,
      verifyKey: pair.publicKey,
      publicJwk,
      createdAt: now,
      retiredAt: null,
    },
    serialized: {
      kid,
      alg,
      privateJwk: JSON.stringify(privateJwk),
      publicJwk: JSON.stringify(publicJwk),
      createdAt: now,
      retiredAt: null,
    },
  };
}

/** Rebuilds a key from its stored form. */
export async function deserializeSigningKey(record: SerializedKey): Promise<SigningKey> {
  if (!isSigningAlgorithm(record.alg)) {
    throw new TypeError(`Stored signing key ${record.kid} has unsupported algorithm ${record.alg}`);
  }
  const alg = record.alg;
  const privateJwk = JSON.parse(record.privateJwk) as JWK;
  if (isHmac(alg)) {
    const secret = await importJWK(privateJwk, alg);
    return {
      kid: record.kid,
      alg,
      signingKey: secret,
      verifyKey: secret,
      publicJwk: null,
      createdAt: record.createdAt,
      retiredAt: record.retiredAt,
    };
  }
  const publicJwk = record.publicJwk === null ? null : (JSON.parse(record.publicJwk) as JWK);
  if (publicJwk === null) throw new TypeError(`Stored signing key ${record.kid} has no public key`);
  return {
    kid: record.kid,
    alg,
    signingKey: (await importJWK(privateJwk, alg)) as CryptoKey,
    verifyKey: (await importJWK(publicJwk, alg)) as CryptoKey,
    publicJwk,
    createdAt: record.createdAt,
    retiredAt: record.retiredAt,
  };
}

/**
 * A key from an HMAC secret given by the operator. Refuses secrets under 32 bytes. The
 * `kid` is derived from the secret (a truncated SHA-256, which reveals nothing useful about
 * a 256-bit secret) so that every node configured with the same secret agrees on it.
 */
export function keyFromSecret(alg: SigningAlgorithm, secret: Uint8Array, now: number): SigningKey {
  if (!isHmac(alg))
    throw new TesseraError("invalid_request", `An HMAC secret needs an HS* algorithm, not ${alg}.`);
  if (secret.byteLength < MIN_HMAC_SECRET_BYTES) {
    throw new TesseraError(
      "invalid_request",
      `The HMAC secret is ${secret.byteLength} bytes; ${alg} needs at least ${MIN_HMAC_SECRET_BYTES} bytes.`,
    );
  }
  const kid = `hs-${createHash("sha256").update("tessera-kid:").update(secret).digest("base64url").slice(0, 16)}`;
  return {
    kid,
    alg,
    signingKey: secret,
    verifyKey: secret,
    publicJwk: null,
    createdAt: now,
    retiredAt: null,
  };
}

/** A key from PEM text: PKCS#8 private key, and optionally the SPKI public key. */
export async function keyFromPem(
  alg: SigningAlgorithm,
  privatePem: string,
  publicPem: string | null,
  now: number,
): Promise<SigningKey> {
  if (isHmac(alg))
    throw new TesseraError("invalid_request", `PEM keys need an asymmetric algorithm, not ${alg}.`);
  let signingKey: CryptoKey;
  try {
    signingKey = await importPKCS8(privatePem, alg, { extractable: true });
  } catch (error) {
    // jose says why (a curve or key type that is not the algorithm's); never the key itself.
    const reason = error instanceof Error ? error.message : String(error);
    throw new TesseraError(
      "invalid_request",
      `The configured private key cannot be used for ${alg}: ${reason}.`,
    );
  }
  const verifyKey = publicPem
    ? await importSPKI(publicPem, alg, { extractable: true })
    : ((await importJWK(publicPart(await exportJWK(signingKey)), alg)) as CryptoKey);
  const publicJwk = await exportJWK(verifyKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg,
    signingKey,
    verifyKey,
    publicJwk: publish(publicJwk, kid, alg),
    createdAt: now,
    retiredAt: null,
  };
}
