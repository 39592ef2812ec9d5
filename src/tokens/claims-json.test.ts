import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { claimsInLayout, parseClaims, parseJsonObject } from "./claims-json.js";
import { signAccessToken } from "./jwt.js";
import { generateSigningKey } from "./keys.js";

/** Same members, same values, same order (`toEqual` alone ignores the order). */
function expectSameObject(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", "tessera", 'quote " inside', "back\\slash", "tab\there", "ünïcødé", "\u2028", "0"),
);
const number = fc.oneof(
  fc.nat(),
  fc.integer({ min: -1e6, max: 1e16 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1796234193, 2 ** 53, 1e21, 0.5),
);
const nullableText = fc.option(text, { nil: null });

/** Claims as `signAccessToken` writes them, with any values: in the layout or just outside it. */
const layoutLike = fc
  .record({
    iss: text,
    sub: text,
    sid: text,
    jti: text,
    iat: number,
    exp: number,
    username: text,
    aud: fc.option(text, { nil: undefined }),
    metadata: fc.option(fc.record({ user_agent: nullableText, ip_address: nullableText }), {
      nil: undefined,
    }),
  })
  .map(({ aud, metadata, ...rest }) => ({
    ...rest,
    ...(aud === undefined ? {} : { aud }),
    ...(metadata === undefined ? {} : { metadata }),
  }));

const anyJson = fc.jsonValue();

describe("reading a payload's claims", () => {
  it("gives what JSON.parse gives, members in order, for claims in or near the layout (property)", () => {
    fc.assert(
      fc.property(layoutLike, (claims) => {
        const json = JSON.stringify(claims);
        expectSameObject(parseClaims(json), JSON.parse(json));
      }),
      { numRuns: 2000 },
    );
  });

  it("gives what JSON.parse gives for any JSON text and any edit of a layout text (property)", () => {
    const edited = fc
      .tuple(layoutLike, fc.nat(), fc.nat(4), fc.string({ unit: "binary", maxLength: 3 }))
      .map(([claims, at, drop, insert]) => {
        const json = JSON.stringify(claims);
        const i = at % (json.length + 1);
        return json.slice(0, i) + insert + json.slice(i + drop);
      });
    fc.assert(
      fc.property(
        fc.oneof(
          edited,
          anyJson.map((v) => JSON.stringify(v)),
        ),
        (json) => {
          const fast = parseClaims(json);
          const slow = parseJsonObject(json);
          if (slow === null) expect(fast).toBeNull();
          else expectSameObject(fast, slow);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("takes the layout's fast path for every token signAccessToken issues", async () => {
    const { key } = await generateSigningKey("HS256", Date.now());
    const input = {
      issuer: "https://auth.example/tessera",
      audience: null,
      userUuid: "6f1c1b8e-8f0e-4c55-9d67-3c1f8d1b2a11",
      username: "hero",
      sessionId: "0c7e7c52-5d3b-4f0c-9a36-2f4f3d6b8e21",
      now: Date.UTC(2026, 10, 22, 12),
      ttlSeconds: 900,
      metadata: null,
    };
    const variants = [
      input,
      { ...input, audience: "api" },
      { ...input, metadata: { userAgent: "Mozilla/5.0 (X11; Linux x86_64)", ipAddress: "::1" } },
      { ...input, audience: "api", metadata: { userAgent: null, ipAddress: null } },
    ];
    for (const variant of variants) {
      const { token, claims } = await signAccessToken(key, variant);
      const payload = Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8");
      const fast = claimsInLayout(payload);
      expect(fast).toBeDefined();
      expectSameObject(fast, JSON.parse(payload));
      expect(fast).toEqual(claims);
    }
  });

  it("leaves to JSON.parse what the layout does not spell exactly", () => {
    const base = '{"iss":"t","sub":"u","sid":"s","jti":"j","iat":1,"exp":2,"username":"h"}';
    expect(claimsInLayout(base)).toEqual(JSON.parse(base));
    for (const other of [
      base.replace('"iat":1', '"iat":1.5'),
      base.replace('"iat":1', '"iat":01'),
      base.replace('"iat":1', '"iat":-1'),
      base.replace('"iat":1', '"iat":1e3'),
      base.replace('"iat":1', '"iat":1234567890123456'),
      base.replace('"h"', '"h\\u0041"'),
      base.replace('"h"', '"h\t"'),
      base.replace(",", ", "),
      base.replace('"username":"h"', '"username":"h","username":"again"'),
      base.replace("}", ',"nbf":1}'),
      `${base} `,
      `[${base}]`,
    ]) {
      expect(claimsInLayout(other)).toBeUndefined();
    }
  });
});
