/**
 * Issue 15, target 2: the first verification of an access JWT (no cache) against
 * `node:crypto` verifying the same token directly with a key imported once — the floor —
 * and against the peers a user would pick instead (jose, fast-jwt without its cache), for
 * every asymmetric algorithm Tessera signs with and HS256. The floor skips what a verifier
 * must do after the signature (decode and parse the claims, check them); a second row adds
 * the decoding and `JSON.parse` of the payload to it, for context. Counted against this
 * process's CPU time (every thread, so jose's thread-pool work counts too).
 */
import { constants, createHmac, hash, KeyObject, timingSafeEqual, verify } from "node:crypto";
import { createVerifier } from "fast-jwt";
import { jwtVerify } from "jose";
import { signAccessToken } from "../src/tokens/jwt.js";
import { generateSigningKey, type SigningAlgorithm } from "../src/tokens/keys.js";
import { verifyAccessTokenSync } from "../src/tokens/verify-jwt.js";
import { compare, note, pick, ratioLine } from "./measure.js";

const ALGORITHMS: readonly SigningAlgorithm[] = ["EdDSA", "ES256", "RS256", "PS256", "HS256"];

/** The least any verifier must do: split off the signature, decode it, check it. */
function nodeFloor(alg: SigningAlgorithm, key: KeyObject): (token: string) => boolean {
  const options =
    alg === "ES256"
      ? { key, dsaEncoding: "ieee-p1363" as const }
      : alg === "PS256"
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : key;
  const digest = alg === "EdDSA" ? null : "sha256";
  if (alg.startsWith("HS")) {
    return (token) => {
      const dot = token.lastIndexOf(".");
      const expected = createHmac("sha256", key).update(token.slice(0, dot)).digest();
      const signature = Buffer.from(token.slice(dot + 1), "base64url");
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    };
  }
  return (token) => {
    const dot = token.lastIndexOf(".");
    const signature = Buffer.from(token.slice(dot + 1), "base64url");
    return verify(digest, Buffer.from(token.slice(0, dot)), options, signature);
  };
}

/**
 * For context, HS256 only: the same check with the HMAC computed as RFC 2104 over two
 * `crypto.hash` one-shots (Node >= 20.12), as Tessera computes it — `createHmac` builds a
 * stream object per call, which costs more than both digests. The floor above keeps
 * `createHmac`, the way the issue states it; this row shows what the faster HMAC leaves.
 */
function oneShotHmacFloor(key: KeyObject): (token: string) => boolean {
  const secret = key.export();
  const inner = Buffer.alloc(64 + 8192);
  const outer = Buffer.alloc(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = (secret[i] ?? 0) ^ 0x36;
    outer[i] = (secret[i] ?? 0) ^ 0x5c;
  }
  const compared = Buffer.alloc(64);
  const expected = compared.subarray(0, 32);
  const presented = compared.subarray(32);
  return (token) => {
    const dot = token.lastIndexOf(".");
    const length = inner.write(token.slice(0, dot), 64, "latin1");
    outer.write(hash("sha256", inner.subarray(0, 64 + length), "binary"), 64, "latin1");
    compared.write(hash("sha256", outer, "binary"), 0, "latin1");
    return (
      compared.write(token.slice(dot + 1), 32, "base64url") === 32 && timingSafeEqual(expected, presented)
    );
  };
}

export async function benchJwt(): Promise<void> {
  for (const alg of ALGORITHMS) {
    const now = Date.now();
    const { key } = await generateSigningKey(alg, now);
    const { token } = await signAccessToken(key, {
      issuer: "tessera",
      audience: null,
      userUuid: "6f1c1b8e-8f0e-4c55-9d67-3c1f8d1b2a11",
      username: "bench",
      sessionId: "0c7e7c52-5d3b-4f0c-9a36-2f4f3d6b8e21",
      now,
      ttlSeconds: 900,
      metadata: { userAgent: "Mozilla/5.0 (X11; Linux x86_64) bench", ipAddress: "127.0.0.1" },
    });
    const keyObject =
      key.verifyKey instanceof Uint8Array
        ? KeyObject.from(
            await crypto.subtle.importKey("raw", key.verifyKey, { name: "HMAC", hash: "SHA-256" }, true, [
              "verify",
            ]),
          )
        : KeyObject.from(key.verifyKey);
    const floor = nodeFloor(alg, keyObject);
    const oneShotFloor = alg === "HS256" ? oneShotHmacFloor(keyObject) : null;
    if (oneShotFloor !== null && !oneShotFloor(token)) throw new Error("the one-shot HMAC does not verify");
    // For context: what no verifier can skip on top of the floor, reading the claims.
    const floorWithClaims = (jwt: string) => {
      if (!floor(jwt)) return null;
      const payload = jwt.slice(jwt.indexOf(".") + 1, jwt.lastIndexOf("."));
      return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
    };
    if (!floor(token)) throw new Error(`${alg}: the floor does not verify the token`);
    const fastJwtKey =
      key.verifyKey instanceof Uint8Array
        ? Buffer.from(key.verifyKey)
        : (keyObject.export({ type: "spki", format: "pem" }) as string);
    const fastJwt = createVerifier({ key: fastJwtKey, algorithms: [alg], cache: false });
    const keyFor = () => key;
    const tesseraName = `tessera verifyAccessToken ${alg} (first verification)`;
    const floorName = `(node:crypto verifying directly, ${alg})`;
    const withClaimsName = `node:crypto verify + JSON.parse of the payload, ${alg}`;
    const oneShotName = `node:crypto HMAC from two crypto.hash one-shots, ${alg}`;
    const results = await compare(
      `JWT first verification, ${alg}: tessera vs peers vs node:crypto`,
      [
        {
          name: tesseraName,
          // The options as the engine passes them (validate.ts): a literal with the time now.
          op: () =>
            verifyAccessTokenSync(token, keyFor, {
              issuer: "tessera",
              audience: null,
              clockToleranceSeconds: 30,
              maxLifetimeSeconds: 900,
              now: Date.now(),
            }),
        },
        { name: `jose jwtVerify ${alg}`, op: () => jwtVerify(token, key.verifyKey, { algorithms: [alg] }) },
        { name: `fast-jwt ${alg}, cache off`, op: () => fastJwt(token) },
        { name: withClaimsName, op: () => floorWithClaims(token) },
        ...(oneShotFloor === null ? [] : [{ name: oneShotName, op: () => oneShotFloor(token) }]),
        { name: floorName, op: () => floor(token) },
      ],
      { rounds: 20, msPerRound: 50, clock: "cpu" },
    );
    note(
      ratioLine(
        `${alg} first verification / node:crypto`,
        pick(results, tesseraName),
        pick(results, floorName),
        "≥ 0.90×",
        (r) => r >= 0.9,
      ),
    );
    note(
      ratioLine(
        `${alg} first verification / node:crypto verify + JSON.parse of the payload`,
        pick(results, tesseraName),
        pick(results, withClaimsName),
        "(context: the floor above skips decoding and parsing the claims)",
        () => true,
      ),
    );
    if (oneShotFloor !== null) {
      note(
        ratioLine(
          `${alg} first verification / node:crypto HMAC from two crypto.hash one-shots`,
          pick(results, tesseraName),
          pick(results, oneShotName),
          "(context: the HMAC Tessera computes, without the claims)",
          () => true,
        ),
      );
    }
  }
}
