/**
 * The signature check of one verifying key, built once per key: the `KeyObject` is imported
 * once, the algorithm is the key's own (never a token's header), and only the canonical
 * base64url spelling of a valid signature passes (base64url leaves spare bits in the last
 * character: one token has exactly one string form, and one cache key).
 */

import {
  createHash,
  createHmac,
  createSecretKey,
  KeyObject,
  constants as nodeConstants,
  timingSafeEqual,
  verify,
} from "node:crypto";
import type { SigningAlgorithm, SigningKey } from "./keys.js";
import { oneShotHash } from "./one-shot-hash.js";

/** Checks `signature` (as the token spells it) over `signingInput`. */
export type SignatureCheck = (signingInput: string, signature: string) => boolean;

const checks = new WeakMap<SigningKey, SignatureCheck>();

/** The key's signature check (the `KeyObject` import and the HMAC pads are the costly part). */
export function signatureCheckFor(key: SigningKey): SignatureCheck {
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
    // The block sizes of RFC 2104's padded key: 64 bytes for SHA-256, 128 for SHA-384/512.
    case "HS256":
      return hmacCheck(alg, "sha256", 64, key);
    case "HS384":
      return hmacCheck(alg, "sha384", 128, key);
    case "HS512":
      return hmacCheck(alg, "sha512", 128, key);
    case "EdDSA":
      expectType(alg, key, ["ed25519", "ed448"]);
      return publicKeyCheck(null, key, key.asymmetricKeyType === "ed448" ? 114 : 64);
    case "ES256":
      expectType(alg, key, ["ec"]);
      if (key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
        throw new TypeError("ES256 needs a P-256 key");
      // r ‖ s, 32 bytes each.
      return publicKeyCheck("sha256", { key, dsaEncoding: "ieee-p1363" }, 64);
    case "RS256":
      expectType(alg, key, ["rsa"]);
      return publicKeyCheck("sha256", key, modulusBytes(key));
    case "PS256":
      expectType(alg, key, ["rsa", "rsa-pss"]);
      return publicKeyCheck(
        "sha256",
        {
          key,
          padding: nodeConstants.RSA_PKCS1_PSS_PADDING,
          saltLength: nodeConstants.RSA_PSS_SALTLEN_DIGEST,
        },
        modulusBytes(key),
      );
    default: {
      const unknown: never = alg;
      throw new TypeError(`Unsupported algorithm ${String(unknown)}`);
    }
  }
}

/** The longest signing input the one-shot HMAC takes; a longer one goes through `createHmac`. */
const ONE_SHOT_INPUT_MAX = 2048;

type HmacHash = "sha256" | "sha384" | "sha512";

/**
 * The HMAC of a signing input, base64url-encoded, or null for an input outside ASCII (no
 * JWT signing input is: base64url and one dot; and refusing it here means no two strings
 * share one byte form). RFC 2104 over two one-shot digests, `H(K ⊕ opad ‖ H(K ⊕ ipad ‖ m))`,
 * with the padded keys kept in the check's own zero-filled buffers (never the shared
 * pool): `createHmac` builds a stream object per call, which costs more than both digests
 * of a token. Property-tested against `createHmac` (signature-check.test.ts).
 */
export function hmacBase64url(
  hash: HmacHash,
  blockSize: number,
  key: KeyObject,
): (input: string) => string | null {
  const viaStream = (input: string) =>
    isAscii(input) ? createHmac(hash, key).update(input).digest("base64url") : null;
  const run = oneShotHash;
  if (run === undefined) return viaStream;
  const exported = key.export();
  const secret = exported.length > blockSize ? createHash(hash).update(exported).digest() : exported;
  // Room for the longest input in UTF-8 (3 bytes a code unit), so a write never truncates
  // and "bytes written = characters" holds exactly when the input is ASCII.
  const inner = Buffer.alloc(blockSize + 3 * ONE_SHOT_INPUT_MAX);
  const outer = Buffer.alloc(blockSize + createHash(hash).digest().length);
  for (let i = 0; i < blockSize; i++) {
    const byte = secret[i] ?? 0;
    inner[i] = byte ^ 0x36;
    outer[i] = byte ^ 0x5c;
  }
  exported.fill(0);
  secret.fill(0);
  const message = prefixViews(inner, blockSize);
  return (input) => {
    if (input.length > ONE_SHOT_INPUT_MAX) return viaStream(input);
    const written = inner.write(input, blockSize, "utf8");
    if (written !== input.length) return null;
    // The inner digest passes as a latin1 string: a `Buffer` result is an ArrayBuffer of
    // its own, allocated outside the heap, which costs more than the digest itself.
    outer.write(run(hash, message(written), "binary"), blockSize, "latin1");
    return run(hash, outer, "base64url");
  };
}

/**
 * `buffer.subarray(0, offset + n)` for every n up to `ONE_SHOT_INPUT_MAX`, each made once:
 * a `subarray` is a new object per call, and the signing inputs of one issuer have few
 * lengths.
 */
function prefixViews(buffer: Buffer, offset: number): (n: number) => Buffer {
  const views = new Array<Buffer | undefined>(ONE_SHOT_INPUT_MAX + 1).fill(undefined);
  return (n) => {
    let view = views[n];
    if (view === undefined) {
      view = buffer.subarray(0, offset + n);
      views[n] = view;
    }
    return view;
  };
}

function isAscii(text: string): boolean {
  return Buffer.byteLength(text, "utf8") === text.length;
}

/**
 * HMAC, compared in its encoded form: the expected MAC is spelled in base64url and both
 * spellings are compared in constant time as UTF-16 code units (so no character outside
 * ASCII can pass for one inside it). Equality with the canonical spelling is the canonical
 * check, and no signature is decoded. The comparison buffer is the check's own: one write
 * puts the expected spelling in its first half and the presented one in its second.
 */
function hmacCheck(alg: SigningAlgorithm, hash: HmacHash, blockSize: number, key: KeyObject): SignatureCheck {
  if (key.type !== "secret") throw new TypeError(`${alg} needs a secret key`);
  const mac = hmacBase64url(hash, blockSize, key);
  const length = createHmac(hash, key).digest("base64url").length;
  const compared = Buffer.allocUnsafeSlow(4 * length);
  const expected = compared.subarray(0, 2 * length);
  const presented = compared.subarray(2 * length);
  return (input, signature) => {
    if (signature.length !== length) return false;
    const spelled = mac(input);
    if (spelled === null) return false;
    compared.write(spelled + signature, 0, "utf16le");
    return timingSafeEqual(expected, presented);
  };
}

/**
 * Room for a signing input, kept for the purpose: a `Buffer.from` takes the shared pool,
 * which is refilled (a new 8 KiB ArrayBuffer) every few tokens. Safe to share: `verify`
 * without a callback reads it before it returns. UTF-8 room for the longest input, so that
 * "bytes written = characters" holds exactly when the input is ASCII.
 */
const inputRoom = Buffer.allocUnsafeSlow(3 * ONE_SHOT_INPUT_MAX);
const inputView = prefixViews(inputRoom, 0);

/** An RSA signature is exactly as long as the modulus (RFC 8017 §8.2.2, §8.1.2). */
function modulusBytes(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/**
 * A public-key signature of `bytes` bytes: its spelling must be the canonical base64url of
 * that many bytes (the length first; then decoding and encoding again must give it back:
 * the decoder skips what is not base64 and reads a character outside latin1 by its low
 * byte), then it is verified. Decoded into the check's own buffer.
 */
function publicKeyCheck(
  digest: "sha256" | null,
  key: KeyObject | Parameters<typeof verify>[2],
  bytes: number,
): SignatureCheck {
  const characters = Math.ceil((bytes * 4) / 3);
  const signature = Buffer.allocUnsafeSlow(bytes);
  return (input, encoded) => {
    if (encoded.length !== characters) return false;
    if (signature.write(encoded, 0, "base64url") !== bytes) return false;
    if (signature.toString("base64url") !== encoded) return false;
    if (input.length > ONE_SHOT_INPUT_MAX) {
      return isAscii(input) && verify(digest, Buffer.from(input), key, signature);
    }
    // Outside ASCII it is no JWT signing input (see `hmacBase64url`).
    const written = inputRoom.write(input, 0, "utf8");
    return written === input.length && verify(digest, inputView(written), key, signature);
  };
}

function expectType(alg: SigningAlgorithm, key: KeyObject, types: readonly string[]): void {
  if (key.type !== "public" || !types.includes(key.asymmetricKeyType ?? "")) {
    throw new TypeError(`${alg} cannot verify with a ${key.asymmetricKeyType ?? key.type} key`);
  }
}
