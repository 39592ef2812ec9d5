/**
 * The partner's side of the `signed-payload` provider, for partners written in TypeScript
 * and for tests: builds `{ keyId, payload, signature }` exactly as the provider checks it
 * (see `signed-payload.ts` for the bytes signed).
 */
import { createHmac, createPrivateKey, type KeyObject, sign } from "node:crypto";
import type { JsonValue } from "../../stores/session-store.js";
import { type SignedPayloadInput, signingInput } from "./signed-payload.js";

export interface PartnerClaims {
  /** The partner's id of the user (its own namespace: not a local username). */
  readonly sub: string;
  /** Issued at, whole seconds since the epoch. */
  readonly iat: number;
  /** Unique per payload: 16 to 128 characters of `[A-Za-z0-9._~-]`. */
  readonly nonce: string;
  readonly data?: JsonValue;
  readonly deviceId?: string;
}

export interface PartnerKey {
  readonly keyId: string;
  /** PKCS#8 PEM (or a KeyObject) of an Ed25519 private key. */
  readonly privateKey?: string | KeyObject;
  /** The HS256 shared secret. */
  readonly secret?: string | Uint8Array;
}

export function signPayload(key: PartnerKey, claims: PartnerClaims): SignedPayloadInput {
  return signEncodedPayload(key, Buffer.from(JSON.stringify(claims), "utf8").toString("base64url"));
}

/** Signs a payload that is already base64url (a partner with its own JSON encoder). */
export function signEncodedPayload(key: PartnerKey, payload: string): SignedPayloadInput {
  const input = signingInput(key.keyId, payload);
  let signature: Buffer;
  if (key.privateKey !== undefined) {
    const privateKey = typeof key.privateKey === "string" ? createPrivateKey(key.privateKey) : key.privateKey;
    signature = sign(null, input, privateKey);
  } else if (key.secret !== undefined) {
    signature = createHmac("sha256", key.secret).update(input).digest();
  } else {
    throw new TypeError("signPayload needs a privateKey or a secret");
  }
  return { keyId: key.keyId, payload, signature: signature.toString("base64url") };
}
