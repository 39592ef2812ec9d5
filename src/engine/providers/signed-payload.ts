/**
 * The `signed-payload` provider (issue 6, seed 001): a partner system vouches for a user by
 * signing a JSON payload under a key Tessera was configured with; Tessera checks the
 * signature, the payload's age and its nonce, then finds or creates the user it names and
 * starts a session carrying the payload's `data`.
 *
 * Request body: `{ keyId, payload, signature }` where `payload` is base64url (no padding)
 * of the UTF-8 JSON `{ sub, iat, nonce, data?, deviceId? }` — `sub` the partner's id of the user, `iat`
 * the issue time in whole seconds since the epoch, `nonce` 16 to 128 characters of
 * `[A-Za-z0-9._~-]` never used before with this key — and `signature` is base64url of the
 * signature over exactly these ASCII bytes:
 *
 *     tessera.signed-payload.v1.<keyId>.<payload>
 *
 * (`payload` as sent, still base64url). The prefix keeps a partner's signature for any
 * other purpose from being replayed here; the key id inside binds the signature to one
 * partner key. The algorithm is the configured key's (Ed25519 via `crypto.verify`, or
 * HMAC-SHA256 compared in constant time) — never chosen by the request, so there is no
 * algorithm confusion.
 *
 * Checks run cheapest-safe first: the key, then the signature (nothing unsigned is parsed
 * beyond its shape), then freshness, then the nonce, which is remembered atomically in the
 * store (every node sharing it refuses a replay) until the payload could no longer be fresh.
 *
 * `sub` is the partner's id of the person, not a local username: the session's user is the
 * one linked to the identity (`signed-payload`, the key's `partner`, `sub`) — see
 * `engine/identities.ts`. A partner signing `sub: "alice"` is not the local user `alice`.
 */
import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from "node:crypto";
import * as z from "zod";
import { TesseraError } from "../../errors.js";
import type { JsonValue, SessionTokenType } from "../../stores/session-store.js";
import type { ResolveIdentityOptions } from "../identities.js";
import type { AuthProvider } from "../providers.js";

export const SIGNED_PAYLOAD_CONTEXT = "tessera.signed-payload.v1.";

export type SignedPayloadAlgorithm = "Ed25519" | "HS256";

export interface SignedPayloadPartner {
  /** Sent by the partner as `keyId`; letters, digits and `._:-`, up to 128. */
  readonly keyId: string;
  readonly algorithm: SignedPayloadAlgorithm;
  /** SPKI PEM of the partner's Ed25519 public key (for `Ed25519`). */
  readonly publicKeyPem?: string;
  /** The shared secret, at least 32 bytes (for `HS256`). */
  readonly secret?: string | Uint8Array;
  /**
   * The partner this key belongs to: the issuer of its identities. Keys of one partner
   * (a rotation) share it, so its users stay theirs. Letters, digits and `._:-`, up to 128.
   * @default the keyId
   */
  readonly partner?: string;
  /**
   * Give a `sub` seen for the first time a new user. Off, only identities an operator
   * linked (`tessera users link`) sign in; others get `invalid_credentials`. @default true
   */
  readonly createUsers?: boolean;
  /**
   * Upgrading from a Tessera without identities, where this partner's `sub` was the
   * username: a `sub` seen for the first time takes over the user of that name if it has
   * no password and no identity yet (a user this provider made before), instead of a new
   * user. A password user is never taken over. @default false
   */
  readonly adoptExistingUsers?: boolean;
}

export interface SignedPayloadOptions {
  readonly partners: readonly SignedPayloadPartner[];
  /** How old a payload may be. @default 300 (5 minutes) */
  readonly maxAgeSeconds?: number;
  /** Tolerated clock difference with partners, either way. @default 30 */
  readonly clockSkewSeconds?: number;
  /** @default "signed-payload" */
  readonly name?: string;
  /** What the session's access token is. @default "jwt" */
  readonly tokenType?: SessionTokenType;
}

const KEY_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Base64url of the 1 MiB session-data cap plus room for the other fields. */
const MAX_PAYLOAD_CHARS = 1_500_000;
const MIN_HMAC_SECRET_BYTES = 32;

export const signedPayloadInput = z
  .object({
    keyId: z.string().regex(KEY_ID, "must be 1 to 128 letters, digits or ._:-"),
    payload: z.string().min(1).max(MAX_PAYLOAD_CHARS).regex(BASE64URL, "must be base64url"),
    signature: z.string().min(1).max(512).regex(BASE64URL, "must be base64url"),
  })
  .strict();

export type SignedPayloadInput = z.infer<typeof signedPayloadInput>;

/** The signed JSON, once its signature holds. */
const claimsSchema = z
  .object({
    sub: z.string().min(1).max(256),
    iat: z.number().int().nonnegative(),
    nonce: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{16,128}$/, "must be 16 to 128 characters of A-Z a-z 0-9 . _ ~ -"),
    // Whatever JSON.parse produced is JSON already; walking 1 MiB of it again buys nothing.
    data: z.unknown().optional(),
    deviceId: z.string().min(1).max(128).optional(),
  })
  .strict();

type Verifier = (signingInput: Buffer, signature: Buffer) => boolean;

interface ConfiguredKey {
  readonly verify: Verifier;
  readonly partner: string;
  readonly options: ResolveIdentityOptions;
}

/** The bytes a partner signs for `keyId` and the base64url `payload`. */
export function signingInput(keyId: string, payload: string): Buffer {
  return Buffer.from(`${SIGNED_PAYLOAD_CONTEXT}${keyId}.${payload}`, "ascii");
}

export function signedPayloadProvider(options: SignedPayloadOptions): AuthProvider<SignedPayloadInput> {
  const maxAgeSeconds = options.maxAgeSeconds ?? 300;
  const skewSeconds = options.clockSkewSeconds ?? 30;
  if (!(maxAgeSeconds > 0) || !(skewSeconds >= 0)) {
    throw new TypeError(
      "signedPayloadProvider: maxAgeSeconds must be positive and clockSkewSeconds not negative",
    );
  }
  const keys = new Map<string, ConfiguredKey>();
  for (const partner of options.partners) {
    if (!KEY_ID.test(partner.keyId))
      throw new TypeError(`Partner key id "${partner.keyId}" must match ${KEY_ID}`);
    if (keys.has(partner.keyId)) throw new TypeError(`Partner key id "${partner.keyId}" is configured twice`);
    if (partner.partner !== undefined && !KEY_ID.test(partner.partner))
      throw new TypeError(`Partner "${partner.keyId}": partner "${partner.partner}" must match ${KEY_ID}`);
    keys.set(partner.keyId, {
      verify: verifierFor(partner),
      partner: partner.partner ?? partner.keyId,
      options: {
        create: partner.createUsers ?? true,
        adoptUnlinkedUser: partner.adoptExistingUsers ?? false,
      },
    });
  }
  return {
    name: options.name ?? "signed-payload",
    schema: signedPayloadInput,
    async authenticate(input, context) {
      const key = keys.get(input.keyId);
      if (key === undefined) throw new TesseraError("invalid_credentials", "Unknown partner key id.");
      const signature = Buffer.from(input.signature, "base64url");
      if (!key.verify(signingInput(input.keyId, input.payload), signature)) {
        throw new TesseraError("invalid_credentials", "The payload signature does not verify.");
      }
      const claims = decodeClaims(input.payload);
      const nowSeconds = context.now() / 1000;
      if (claims.iat > nowSeconds + skewSeconds) {
        throw new TesseraError(
          "invalid_credentials",
          "The signed payload was issued in the future; check the clock.",
        );
      }
      if (claims.iat < nowSeconds - maxAgeSeconds - skewSeconds) {
        throw new TesseraError(
          "invalid_credentials",
          `The signed payload is older than ${maxAgeSeconds} seconds.`,
        );
      }
      // Remembered for as long as the payload could still pass the freshness check.
      const fresh = await context.rememberNonce(
        `${input.keyId}:${claims.nonce}`,
        (claims.iat + maxAgeSeconds + skewSeconds) * 1000 + 1,
      );
      if (!fresh)
        throw new TesseraError(
          "invalid_credentials",
          "This signed payload was already used (nonce seen before).",
        );
      // The partner's namespace, never the local usernames.
      const user = await context.resolveIdentity({ issuer: key.partner, subject: claims.sub }, key.options);
      return {
        user,
        data: (claims.data ?? null) as JsonValue,
        deviceId: claims.deviceId ?? null,
        ...(options.tokenType === undefined ? {} : { tokenType: options.tokenType }),
      };
    },
  };
}

function verifierFor(partner: SignedPayloadPartner): Verifier {
  switch (partner.algorithm) {
    case "Ed25519": {
      if (partner.publicKeyPem === undefined)
        throw new TypeError(`Partner "${partner.keyId}" needs publicKeyPem`);
      let key: KeyObject;
      try {
        key = createPublicKey(partner.publicKeyPem);
      } catch (cause) {
        throw new TypeError(`Partner "${partner.keyId}": publicKeyPem is not a public key`, { cause });
      }
      if (key.asymmetricKeyType !== "ed25519")
        throw new TypeError(`Partner "${partner.keyId}": not an Ed25519 key`);
      return (data, signature) => signature.length === 64 && verify(null, data, key, signature);
    }
    case "HS256": {
      if (partner.secret === undefined) throw new TypeError(`Partner "${partner.keyId}" needs a secret`);
      const secret =
        typeof partner.secret === "string"
          ? Buffer.from(partner.secret, "utf8")
          : Buffer.from(partner.secret);
      if (secret.length < MIN_HMAC_SECRET_BYTES) {
        throw new TypeError(
          `Partner "${partner.keyId}": an HS256 secret needs at least ${MIN_HMAC_SECRET_BYTES} bytes`,
        );
      }
      return (data, signature) => {
        const expected = createHmac("sha256", secret).update(data).digest();
        // The length is public (always 32); the bytes are compared in constant time.
        return signature.length === expected.length && timingSafeEqual(signature, expected);
      };
    }
    default:
      partner.algorithm satisfies never;
      throw new TypeError(`Partner "${String((partner as { keyId?: unknown }).keyId)}": unknown algorithm`);
  }
}

function decodeClaims(payload: string): z.infer<typeof claimsSchema> {
  let value: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(payload, "base64url"));
    value = JSON.parse(text);
  } catch {
    throw new TesseraError("invalid_request", "The signed payload is not UTF-8 JSON.", {
      issues: [{ path: "payload", message: "must be base64url of UTF-8 JSON" }],
    });
  }
  const parsed = claimsSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: ["payload", ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  throw new TesseraError(
    "invalid_request",
    `Invalid signed payload: ${issues[0]?.path} ${issues[0]?.message}.`,
    {
      issues,
    },
  );
}
