/**
 * Access JWTs (`typ: at+jwt`, RFC 9068 style): signing and verification through `jose`.
 *
 * Verification looks the key up by `kid` and then accepts only that key's algorithm, so a
 * token cannot choose how it is checked. Every failure maps to `token_invalid` except an
 * expired token (`token_expired`); messages never include the token.
 */
import { randomUUID } from "node:crypto";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { TesseraError } from "../errors.js";
import type { SigningKey } from "./keys.js";

export interface AccessClaims {
  readonly iss: string;
  /** The user's uuid. */
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly username: string;
  readonly aud?: string;
  readonly metadata?: { readonly user_agent: string | null; readonly ip_address: string | null };
}

export interface SignAccessInput {
  readonly issuer: string;
  readonly audience: string | null;
  readonly userUuid: string;
  readonly username: string;
  readonly sessionId: string;
  readonly now: number;
  readonly ttlSeconds: number;
  readonly metadata: { readonly userAgent: string | null; readonly ipAddress: string | null } | null;
  /** @default a random UUID */
  readonly jti?: string;
}

export async function signAccessToken(
  key: SigningKey,
  input: SignAccessInput,
): Promise<{ token: string; claims: AccessClaims }> {
  const iat = Math.floor(input.now / 1000);
  const claims: AccessClaims = {
    iss: input.issuer,
    sub: input.userUuid,
    sid: input.sessionId,
    jti: input.jti ?? randomUUID(),
    iat,
    exp: iat + input.ttlSeconds,
    username: input.username,
    ...(input.audience === null ? {} : { aud: input.audience }),
    ...(input.metadata === null
      ? {}
      : { metadata: { user_agent: input.metadata.userAgent, ip_address: input.metadata.ipAddress } }),
  };
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" })
    .sign(key.signingKey);
  return { token, claims };
}

export interface VerifyAccessOptions {
  readonly issuer: string;
  readonly audience: string | null;
  readonly clockToleranceSeconds: number;
  readonly now: number;
}

/** Cheap shape check: three base64url segments. Anything else is not a JWT. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export async function verifyAccessToken(
  token: string,
  keyFor: (kid: string) => SigningKey | undefined,
  options: VerifyAccessOptions,
): Promise<AccessClaims> {
  // base64url leaves spare bits in the last character of the signature; accept only the
  // canonical spelling so that one token has exactly one string form (and one cache key).
  const signature = token.slice(token.lastIndexOf(".") + 1);
  if (Buffer.from(signature, "base64url").toString("base64url") !== signature) {
    throw new TesseraError("token_invalid", "Malformed access token.");
  }
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new TesseraError("token_invalid", "Malformed access token.");
  }
  if (typeof kid !== "string") throw new TesseraError("token_invalid", "Access token has no key id.");
  const key = keyFor(kid);
  if (key === undefined)
    throw new TesseraError("token_invalid", "Access token was signed with an unknown key.");
  try {
    const { payload } = await jwtVerify(token, key.verifyKey, {
      algorithms: [key.alg],
      issuer: options.issuer,
      ...(options.audience === null ? {} : { audience: options.audience }),
      typ: "at+jwt",
      clockTolerance: options.clockToleranceSeconds,
      currentDate: new Date(options.now),
      requiredClaims: ["sub", "sid", "jti", "iat", "exp"],
    });
    if (typeof payload.sid !== "string" || typeof payload.username !== "string") {
      throw new TesseraError("token_invalid", "Access token is missing Tessera claims.");
    }
    return payload as unknown as AccessClaims;
  } catch (error) {
    if (error instanceof TesseraError) throw error;
    if (error instanceof joseErrors.JWTExpired)
      throw new TesseraError("token_expired", "The access token has expired.");
    throw new TesseraError("token_invalid", "The access token could not be verified.");
  }
}
