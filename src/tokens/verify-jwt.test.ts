import { createHmac, KeyObject, sign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { signAccessToken } from "./jwt.js";
import { generateSigningKey, type SigningKey } from "./keys.js";
import { verifyAccessToken, verifyAccessTokenSync } from "./verify-jwt.js";

const NOW = Date.UTC(2026, 10, 22, 12);
const NOW_S = NOW / 1000;
const options = {
  issuer: "tessera",
  audience: null,
  clockToleranceSeconds: 30,
  now: NOW,
  maxLifetimeSeconds: 900,
};

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Signs any header and payload with an EdDSA key, as a forger holding the key could. */
function signRaw(key: SigningKey, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign(
    null,
    Buffer.from(input),
    KeyObject.from(key.signingKey as Parameters<typeof KeyObject.from>[0]),
  );
  return `${input}.${signature.toString("base64url")}`;
}

/** Signs a header and a payload given as JSON text, with an EdDSA or HMAC key. */
function signText(key: SigningKey, header: Record<string, unknown>, payloadJson: string): string {
  const input = `${b64(header)}.${Buffer.from(payloadJson).toString("base64url")}`;
  const signature =
    key.signingKey instanceof Uint8Array
      ? createHmac(`sha${key.alg.slice(2)}`, key.signingKey)
          .update(input)
          .digest()
      : sign(
          null,
          Buffer.from(input),
          KeyObject.from(key.signingKey as Parameters<typeof KeyObject.from>[0]),
        );
  return `${input}.${signature.toString("base64url")}`;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: "tessera",
    sub: "u",
    sid: "s1",
    jti: "j1",
    username: "hero",
    iat: NOW_S,
    exp: NOW_S + 900,
    ...overrides,
  };
}

/** What `signAccessToken` is given to issue a token of these claims. */
const signInput = {
  issuer: "tessera",
  audience: null,
  userUuid: "u",
  username: "hero",
  sessionId: "s1",
  now: NOW,
  ttlSeconds: 900,
  metadata: null,
};

function failure(run: () => unknown): string | undefined {
  try {
    run();
    return "accepted";
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("verifying an access JWT with node:crypto", async () => {
  const { key } = await generateSigningKey("EdDSA", NOW);
  const keyFor = (kid: string) => (kid === key.kid ? key : undefined);
  const header = { alg: "EdDSA", kid: key.kid, typ: "at+jwt" };
  const check = (token: string) => failure(() => verifyAccessTokenSync(token, keyFor, options));

  it("accepts a well-formed token signed by the key, with typ in either spelling", () => {
    expect(check(signRaw(key, header, claims()))).toBe("accepted");
    expect(check(signRaw(key, { ...header, typ: "application/AT+JWT" }, claims()))).toBe("accepted");
  });

  it("refuses an iat beyond the clock skew in the future", () => {
    expect(check(signRaw(key, header, claims({ iat: NOW_S + 3600, exp: NOW_S + 4000 })))).toBe(
      "token_invalid",
    );
    // Inside the skew it passes.
    expect(check(signRaw(key, header, claims({ iat: NOW_S + 20, exp: NOW_S + 900 })))).toBe("accepted");
  });

  it("refuses a lifetime beyond the configured access-token lifetime plus the skew", () => {
    const tenYears = 10 * 365 * 24 * 3600;
    expect(check(signRaw(key, header, claims({ exp: NOW_S + tenYears })))).toBe("token_invalid");
    expect(check(signRaw(key, header, claims({ exp: NOW_S + 930 })))).toBe("accepted");
    expect(check(signRaw(key, header, claims({ exp: NOW_S + 931 })))).toBe("token_invalid");
  });

  it("refuses crit, b64 other than true, a wrong or missing typ, and an alg the key does not have", () => {
    expect(check(signRaw(key, { ...header, crit: ["exp"] }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { ...header, crit: ["b64"], b64: false }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { ...header, b64: false }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { ...header, typ: "JWT" }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { alg: "EdDSA", kid: key.kid }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { ...header, alg: "ES256" }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { ...header, alg: "none" }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { ...header, kid: "someone-else" }, claims()))).toBe("token_invalid");
    expect(check(signRaw(key, { alg: "EdDSA", typ: "at+jwt" }, claims()))).toBe("token_invalid");
  });

  it("refuses nbf in the future, a wrong issuer, mistyped claims and a non-object payload", () => {
    expect(check(signRaw(key, header, claims({ nbf: NOW_S + 600 })))).toBe("token_invalid");
    expect(check(signRaw(key, header, claims({ iss: "elsewhere" })))).toBe("token_invalid");
    expect(check(signRaw(key, header, claims({ exp: String(NOW_S + 900) })))).toBe("token_invalid");
    expect(check(signRaw(key, header, claims({ sid: 7 })))).toBe("token_invalid");
    expect(check(signRaw(key, header, claims({ jti: undefined })))).toBe("token_invalid");
    const input = `${b64(header)}.${Buffer.from("[1]").toString("base64url")}`;
    const signature = sign(
      null,
      Buffer.from(input),
      KeyObject.from(key.signingKey as Parameters<typeof KeyObject.from>[0]),
    );
    expect(check(`${input}.${signature.toString("base64url")}`)).toBe("token_invalid");
  });

  it("answers token_expired only for a correctly signed token past its exp", () => {
    const old = claims({ iat: NOW_S - 1000, exp: NOW_S - 60 });
    expect(check(signRaw(key, header, old))).toBe("token_expired");
    const forged = signRaw(key, header, old).replace(/\.[^.]+$/, `.${"A".repeat(86)}`);
    expect(check(forged)).toBe("token_invalid");
  });

  it("checks the audience when one is configured", () => {
    const withAudience = { ...options, audience: "api" };
    const run = (aud: unknown) =>
      failure(() => verifyAccessTokenSync(signRaw(key, header, claims({ aud })), keyFor, withAudience));
    expect(run("api")).toBe("accepted");
    expect(run(["x", "api"])).toBe("accepted");
    expect(run("other")).toBe("token_invalid");
    expect(run(undefined)).toBe("token_invalid");
  });

  it("any change to a signed token is refused (property)", () => {
    const token = signRaw(key, header, claims());
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.constantFrom(..."AZaz09-_.x"), (at, char) => {
        const mutated = token.slice(0, at) + char + token.slice(at + 1);
        fc.pre(mutated !== token);
        expect(check(mutated)).toBe("token_invalid");
      }),
    );
  });

  it("a character outside ASCII whose low byte spells the signed one is refused", () => {
    const token = signRaw(key, header, claims());
    const dot = token.indexOf(".") + 5;
    const code = token.charCodeAt(dot);
    // U+0141 "Ł" has the low byte of "A": a latin1 signing input would not tell them apart.
    const lookalike = token.slice(0, dot) + String.fromCharCode(code + 0x100) + token.slice(dot + 1);
    expect(check(lookalike)).toBe("token_invalid");
  });

  it("a signature in a non-canonical base64url spelling is refused", () => {
    const token = signRaw(key, header, claims());
    // The last character of an Ed25519 signature carries 4 spare bits; flip one of them.
    const last = token.at(-1) ?? "A";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] ?? "A";
    expect(check(token.slice(0, -1) + sibling)).toBe("token_invalid");
  });

  it.each([
    "EdDSA",
    "ES256",
    "RS256",
    "HS256",
    "HS512",
  ] as const)("%s: a signature respelled (spare bit, base64 alphabet, a lookalike outside ASCII) is refused", async (alg) => {
    const { key: mine } = await generateSigningKey(alg, NOW);
    const sign = (jti: string) => signAccessToken(mine, { ...signInput, jti });
    // A token whose signature has a character that base64 spells differently ("-" or "_").
    let token = "";
    for (let i = 0; !/[-_]/.test(token.slice(token.lastIndexOf(".") + 1)); i++) {
      ({ token } = await sign(`j${i}`));
    }
    const verifies = (candidate: string) =>
      failure(() => verifyAccessTokenSync(candidate, () => mine, options));
    expect(verifies(token)).toBe("accepted");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = token.at(-1) ?? "A";
    // Every signature length Tessera uses leaves spare bits in the last character.
    const spareBit = token.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] ?? "A");
    const base64 = token.replace(
      /\.([^.]+)$/,
      (_, signature: string) => `.${signature.replace(/-/g, "+").replace(/_/g, "/")}`,
    );
    const at = token.length - 2;
    const lookalike =
      token.slice(0, at) + String.fromCharCode(token.charCodeAt(at) + 0x100) + token.slice(at + 1);
    const padded = `${token}=`;
    for (const respelled of [spareBit, base64, lookalike, padded])
      expect(verifies(respelled)).toBe("token_invalid");
  });

  it.each([
    "EdDSA",
    "ES256",
    "RS256",
    "PS256",
    "HS256",
    "HS384",
    "HS512",
  ] as const)("%s tokens signed by jose verify, and fail under another key of the same algorithm", async (alg) => {
    const { key: mine } = await generateSigningKey(alg, NOW);
    const { key: other } = await generateSigningKey(alg, NOW);
    const { token } = await signAccessToken(mine, signInput);
    await expect(verifyAccessToken(token, () => mine, options)).resolves.toMatchObject({ sid: "s1" });
    const impostor = { ...other, kid: mine.kid };
    expect(failure(() => verifyAccessTokenSync(token, () => impostor, options))).toBe("token_invalid");
  });

  it.each([
    "EdDSA",
    "HS256",
  ] as const)("%s: claims in Tessera's compact layout verify exactly as the same claims spaced out, which JSON.parse reads (property)", async (alg) => {
    const { key: mine } = await generateSigningKey(alg, NOW);
    const head = { alg, kid: mine.kid, typ: "at+jwt" };
    const text = fc.oneof(
      fc.constantFrom("tessera", "u", "s1", "j1", "hero", "api", ""),
      fc.string({ maxLength: 12 }),
    );
    // Mostly tokens that pass, so that both outcomes are compared often.
    const time = fc.oneof(
      { arbitrary: fc.integer({ min: NOW_S - 100, max: NOW_S + 40 }), weight: 4 },
      fc.integer({ min: NOW_S - 2000, max: NOW_S + 2000 }),
      fc.constantFrom(NOW_S + 0.5, -1),
    );
    const payload = fc.record({
      iss: fc.oneof({ arbitrary: fc.constant("tessera"), weight: 4 }, text),
      sub: text,
      sid: fc.oneof({ arbitrary: text, weight: 9 }, fc.constant(7)),
      jti: text,
      iat: time,
      exp: fc.oneof({ arbitrary: fc.constant(NOW_S + 900), weight: 4 }, time),
      username: text,
      aud: fc.constantFrom(undefined, "api", "other"),
      metadata: fc.constantFrom(undefined, { user_agent: "ua", ip_address: null }),
    });
    const outcome = (token: string, audience: string | null) => {
      try {
        return verifyAccessTokenSync(token, () => mine, { ...options, audience });
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    let accepted = 0;
    fc.assert(
      fc.property(payload, fc.constantFrom(null, "api"), (claims, audience) => {
        const compact = signText(mine, head, JSON.stringify(claims));
        const spaced = signText(mine, head, JSON.stringify(claims, null, 1));
        const fast = outcome(compact, audience);
        expect(fast).toEqual(outcome(spaced, audience));
        accepted += typeof fast === "object" ? 1 : 0;
      }),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it.each([
    "HS256",
    "HS384",
    "HS512",
  ] as const)("%s: any change to a signed token is refused (property)", async (alg) => {
    const { key: mine } = await generateSigningKey(alg, NOW);
    const token = signText(mine, { alg, kid: mine.kid, typ: "at+jwt" }, JSON.stringify(claims()));
    const verifies = (candidate: string) =>
      failure(() => verifyAccessTokenSync(candidate, () => mine, options));
    expect(verifies(token)).toBe("accepted");
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.constantFrom(..."AZaz09-_.x\u0141"), (at, char) => {
        const mutated = token.slice(0, at) + char + token.slice(at + 1);
        fc.pre(mutated !== token);
        expect(verifies(mutated)).toBe("token_invalid");
      }),
    );
  });
});
