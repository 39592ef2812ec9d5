import fc from "fast-check";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { TesseraError } from "../errors.js";
import { generateOpaqueToken, OPAQUE_TOKEN_LENGTH } from "../tokens/opaque.js";

describe("validate", () => {
  it("tells a JWT from a session token by itself and returns the same session for both", async () => {
    const { tessera } = await makeEngine();
    const { pair, user } = await loggedIn(tessera);
    const viaJwt = await tessera.validate(pair.accessToken);
    expect(viaJwt).toMatchObject({
      credential: "jwt",
      user,
      session: { id: pair.sessionId, tokenType: "jwt" },
    });
    const upgraded = await tessera.upgrade(pair.accessToken);
    const viaSession = await tessera.validate(upgraded.accessToken);
    expect(viaSession).toMatchObject({ credential: "session", user, session: { id: pair.sessionId } });
  });

  it("refuses refresh and link tokens as access credentials", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    expect(await codeOf(tessera.validate(pair.refreshToken))).toBe("token_invalid");
    expect(await codeOf(tessera.validate(generateOpaqueToken("link")))).toBe("token_invalid");
  });

  it("an expired session token gives token_expired; an expired JWT gives token_expired", async () => {
    const { tessera, clock } = await makeEngine({ sessionTtlSeconds: 3600, accessTokenTtlSeconds: 60 });
    const { pair } = await loggedIn(tessera);
    const second = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(second.pair.accessToken);
    clock.advance(91_000);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_expired");
    await expect(tessera.validate(upgraded.accessToken)).resolves.toBeTruthy();
    clock.advance(3_600_000);
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_expired");
  });

  it("a JWT signed by a key that was rotated out still verifies until it expires", async () => {
    const { tessera, clock } = await makeEngine({ accessTokenTtlSeconds: 60 });
    const { pair } = await loggedIn(tessera);
    const oldKid = tessera.jwks().keys[0]?.kid;
    await tessera.rotateKeys();
    expect(tessera.jwks().keys.map((k) => k.kid)).toContain(oldKid);
    await expect(tessera.validate(pair.accessToken)).resolves.toBeTruthy();
    clock.advance(91_000);
    expect(tessera.jwks().keys.map((k) => k.kid)).not.toContain(oldKid);
    expect(tessera.jwks().keys).toHaveLength(1);
  });

  it("the JWKS carries public parts only", async () => {
    const { tessera } = await makeEngine();
    const [key] = tessera.jwks().keys;
    expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(key).not.toHaveProperty("d");
  });

  it("an HMAC-configured engine signs HS256 and publishes no keys; a short secret is refused at start", async () => {
    const secret = "0123456789abcdef0123456789abcdef";
    const { tessera } = await makeEngine({ jwt: { algorithm: "HS256", secret } });
    const { pair } = await loggedIn(tessera);
    expect(
      JSON.parse(Buffer.from(pair.accessToken.split(".")[0] ?? "", "base64url").toString()),
    ).toMatchObject({
      alg: "HS256",
    });
    expect(tessera.jwks().keys).toEqual([]);
    await expect(makeEngine({ jwt: { algorithm: "HS256", secret: "too-short" } })).rejects.toThrow(
      /at least 32 bytes/,
    );
  });

  it("keys generated on first start are reused by the next engine on the same store", async () => {
    const { tessera, store } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const again = await makeEngine({ store });
    expect(again.tessera.jwks()).toEqual(tessera.jwks());
    await expect(again.tessera.validate(pair.accessToken)).resolves.toBeTruthy();
  });

  it("random strings are always refused with token_invalid and nothing else", async () => {
    const { tessera } = await makeEngine();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (input) => {
        expect(await codeOf(tessera.validate(input))).toBe("token_invalid");
      }),
      { numRuns: 500 },
    );
  });

  it("mutated session tokens and JWTs are always refused with token_invalid", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const other = await loggedIn(tessera);
    const sessionToken = (await tessera.upgrade(other.pair.accessToken)).accessToken;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    const mutate = (token: string) =>
      fc
        .tuple(fc.integer({ min: 0, max: token.length - 1 }), fc.constantFrom(...alphabet))
        .filter(([at, ch]) => token[at] !== ch)
        .map(([at, ch]) => token.slice(0, at) + ch + token.slice(at + 1));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutate(pair.accessToken), mutate(sessionToken)), async (token) => {
        const code = await codeOf(tessera.validate(token));
        expect(code).toBe("token_invalid");
      }),
      { numRuns: 400 },
    );
    // A well-formed token that was never issued is unknown, and still token_invalid.
    const forged = generateOpaqueToken("session");
    expect(forged).toHaveLength(OPAQUE_TOKEN_LENGTH);
    expect(await codeOf(tessera.validate(forged))).toBe("token_invalid");
  });

  it("fails closed with unavailable when the store cannot be reached on a cache miss", async () => {
    const { tessera, store } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    const other = await loggedIn(tessera);
    const otherSession = (await tessera.upgrade(other.pair.accessToken)).accessToken;
    // An upgrade announces session_updated, so its own answer is not cached: validate once.
    await tessera.validate(upgraded.accessToken);
    await tessera.validate(otherSession);
    await store.close();
    const error = await tessera.validate(generateOpaqueToken("session")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({ code: "unavailable" });
    expect(await codeOf(tessera.login({ username: other.username, password: "secret123" }))).toBe(
      "unavailable",
    );
    // Cached sessions keep validating while the feed is current (the memory store's always is).
    await expect(tessera.validate(upgraded.accessToken)).resolves.toBeTruthy();
    await expect(tessera.validate(otherSession)).resolves.toBeTruthy();
  });

  it("error messages never contain the token", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const refused = [
      pair.refreshToken,
      `${pair.accessToken}x`,
      `${pair.refreshToken.slice(0, -1)}A`,
      "tss_abc",
    ];
    for (const token of refused) {
      const error = await tessera.validate(token).then(
        () => new Error("resolved"),
        (e: Error) => e,
      );
      expect(error).toMatchObject({ code: "token_invalid" });
      expect(error.message).not.toContain(token.slice(4, 20));
    }
  });

  it("a JWT altered under a signature seen before is refused, even with its original cached", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    await expect(tessera.validate(pair.accessToken)).resolves.toBeTruthy();
    const [header, payload, signature] = pair.accessToken.split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, username: "admin" })).toString("base64url");
    expect(await codeOf(tessera.validate(`${header}.${altered}.${signature}`))).toBe("token_invalid");
    expect(tessera.validateSync(`${header}.${altered}.${signature}`)).toBeNull();
    await expect(tessera.validate(pair.accessToken)).resolves.toMatchObject({ credential: "jwt" });
  });

  it("refuses a correctly signed JWT issued in the future or living longer than the access lifetime", async () => {
    const secret = "0123456789abcdef0123456789abcdef";
    const { tessera, clock } = await makeEngine({
      jwt: { algorithm: "HS256", secret },
      accessTokenTtlSeconds: 900,
    });
    const { pair } = await loggedIn(tessera);
    const [header, payload] = pair.accessToken.split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
    const kid = (JSON.parse(Buffer.from(header ?? "", "base64url").toString()) as { kid: string }).kid;
    const now = Math.floor(clock() / 1000);
    const forge = (overrides: Record<string, unknown>) =>
      new SignJWT({ ...claims, jti: crypto.randomUUID(), ...overrides })
        .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
        .sign(new TextEncoder().encode(secret));
    await expect(tessera.validate(await forge({}))).resolves.toBeTruthy();
    expect(await codeOf(tessera.validate(await forge({ iat: now + 3600, exp: now + 4000 })))).toBe(
      "token_invalid",
    );
    expect(await codeOf(tessera.validate(await forge({ exp: now + 10 * 365 * 86400 })))).toBe(
      "token_invalid",
    );
  });

  it("validateSync answers from memory what validate answers, and null where it cannot", async () => {
    const { tessera, clock } = await makeEngine({ accessTokenTtlSeconds: 60, sessionTtlSeconds: 3600 });
    const { pair } = await loggedIn(tessera);
    const other = await loggedIn(tessera);
    const sessionToken = (await tessera.upgrade(other.pair.accessToken)).accessToken;
    // Never seen: a JWT needs its signature checked first.
    expect(tessera.validateSync(pair.accessToken)).toBeNull();
    const viaJwt = await tessera.validate(pair.accessToken);
    expect(tessera.validateSync(pair.accessToken)).toBe(viaJwt);
    const viaSession = await tessera.validate(sessionToken);
    expect(tessera.validateSync(sessionToken)).toBe(viaSession);
    expect(tessera.validateSync(generateOpaqueToken("session"))).toBeNull();
    expect(tessera.validateSync("nonsense")).toBeNull();
    // An expired JWT and a revoked session are left to validate, which names the reason.
    clock.advance(91_000);
    expect(tessera.validateSync(pair.accessToken)).toBeNull();
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_expired");
    await tessera.logout(viaSession.session.id);
    expect(tessera.validateSync(sessionToken)).toBeNull();
    expect(await codeOf(tessera.validate(sessionToken))).toBe("token_revoked");
  });
});
