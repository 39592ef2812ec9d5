/**
 * Access JWTs (`typ: at+jwt`, RFC 9068 style): the claims and signing through `jose`.
 * Verification is `verify-jwt.ts` (`node:crypto` directly, the key's algorithm only).
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
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
