import { generateKeyPairSync } from "node:crypto";
import { decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signAccessToken } from "./jwt.js";
import {
  deserializeSigningKey,
  generateSigningKey,
  keyFromPem,
  keyFromSecret,
  SIGNING_ALGORITHMS,
} from "./keys.js";
import { verifyAccessToken } from "./verify-jwt.js";

const NOW = Date.UTC(2026, 10, 22, 12);
const input = {
  issuer: "tessera",
  audience: null,
  userUuid: "6f1c1b8e-8f0e-4c55-9d67-3c1f8d1b2a11",
  username: "hero",
  sessionId: "s1",
  now: NOW,
  ttlSeconds: 900,
  metadata: { userAgent: "ua", ipAddress: "127.0.0.1" },
};
const verifyOptions = { issuer: "tessera", audience: null, clockToleranceSeconds: 30, now: NOW };

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => "resolved",
    (error: { code?: string }) => error.code,
  );
}

describe("signing keys", () => {
  it.each(SIGNING_ALGORITHMS)("%s keys sign tokens that verify after a store round trip", async (alg) => {
    const { key, serialized } = await generateSigningKey(alg, NOW);
    const restored = await deserializeSigningKey(serialized);
    const { token, claims } = await signAccessToken(key, input);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg, kid: key.kid, typ: "at+jwt" });
    const verified = await verifyAccessToken(token, () => restored, verifyOptions);
    expect(verified).toMatchObject({ sub: input.userUuid, sid: "s1", jti: claims.jti, username: "hero" });
    expect(verified.metadata).toEqual({ user_agent: "ua", ip_address: "127.0.0.1" });
    if (alg.startsWith("HS")) expect(key.publicJwk).toBeNull();
    else expect(key.publicJwk).not.toHaveProperty("d");
  });

  it("an HMAC secret shorter than 32 bytes is refused", () => {
    expect(() => keyFromSecret("HS256", new Uint8Array(31), NOW)).toThrow(/at least 32 bytes/);
    expect(keyFromSecret("HS256", new Uint8Array(32).fill(7), NOW).kid).toMatch(/^hs-/);
  });

  it("PEM keys load, with a kid that is the JWK thumbprint", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const pub = publicKey.export({ type: "spki", format: "pem" }).toString();
    const withPublic = await keyFromPem("EdDSA", pem, pub, NOW);
    const derived = await keyFromPem("EdDSA", pem, null, NOW);
    expect(withPublic.kid).toBe(derived.kid);
    const { token } = await signAccessToken(derived, input);
    await expect(verifyAccessToken(token, () => withPublic, verifyOptions)).resolves.toMatchObject({
      sid: "s1",
    });
  });

  it("the algorithm comes from the key, never from the token header", async () => {
    const { key } = await generateSigningKey("EdDSA", NOW);
    // An attacker signs with HS256 using the public key bytes as the secret (RS/HS confusion).
    const forged = await new SignJWT({ sub: input.userUuid, sid: "s1", jti: "j", username: "x" })
      .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "at+jwt" })
      .setIssuer("tessera")
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 60)
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
    expect(await code(verifyAccessToken(forged, () => key, verifyOptions))).toBe("token_invalid");
    const none = `${Buffer.from('{"alg":"none","kid":"x","typ":"at+jwt"}').toString("base64url")}.${Buffer.from("{}").toString("base64url")}.`;
    expect(await code(verifyAccessToken(none, () => key, verifyOptions))).toBe("token_invalid");
  });

  it("expired, wrong-issuer, unknown-kid and wrong-typ tokens are refused with their codes", async () => {
    const { key } = await generateSigningKey("ES256", NOW);
    const { token } = await signAccessToken(key, input);
    expect(await code(verifyAccessToken(token, () => key, { ...verifyOptions, now: NOW + 931_000 }))).toBe(
      "token_expired",
    );
    // Inside the 30 s skew it still verifies.
    await expect(
      verifyAccessToken(token, () => key, { ...verifyOptions, now: NOW + 920_000 }),
    ).resolves.toBeTruthy();
    expect(await code(verifyAccessToken(token, () => key, { ...verifyOptions, issuer: "other" }))).toBe(
      "token_invalid",
    );
    expect(await code(verifyAccessToken(token, () => undefined, verifyOptions))).toBe("token_invalid");
    const plainJwt = await new SignJWT({ sid: "s1", username: "x" })
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setSubject("u")
      .setJti("j")
      .setIssuer("tessera")
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 60)
      .sign(key.signingKey);
    expect(await code(verifyAccessToken(plainJwt, () => key, verifyOptions))).toBe("token_invalid");
  });
});
