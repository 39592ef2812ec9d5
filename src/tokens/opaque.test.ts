import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  digestToken,
  generateOpaqueToken,
  OPAQUE_TOKEN_LENGTH,
  opaqueKindOf,
  opaqueTokenProblem,
} from "./opaque.js";

describe("opaque tokens", () => {
  it("carry their kind's prefix, 256 random bits and a checksum that verifies", () => {
    for (const kind of ["session", "refresh", "link"] as const) {
      const token = generateOpaqueToken(kind);
      expect(token).toHaveLength(OPAQUE_TOKEN_LENGTH);
      expect(opaqueKindOf(token)).toBe(kind);
      expect(opaqueTokenProblem(token, kind)).toBeNull();
      expect(Buffer.from(token.slice(4, 47), "base64url")).toHaveLength(32);
    }
  });

  it("are never repeated", () => {
    const seen = new Set(Array.from({ length: 10_000 }, () => generateOpaqueToken("session")));
    expect(seen.size).toBe(10_000);
  });

  it("of one kind are refused as another kind", () => {
    expect(opaqueTokenProblem(generateOpaqueToken("refresh"), "session")).toBe("wrong kind");
  });

  it("with any single character changed fail the checksum", () => {
    const token = generateOpaqueToken("session");
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: OPAQUE_TOKEN_LENGTH - 1 }),
        fc.constantFrom(..."AZaz09-_"),
        (at, ch) => {
          fc.pre(token[at] !== ch);
          const mutated = token.slice(0, at) + ch + token.slice(at + 1);
          expect(opaqueTokenProblem(mutated, "session")).not.toBeNull();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("digests are SHA-256, base64url, and differ per token", () => {
    const a = generateOpaqueToken("session");
    expect(digestToken(a)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(digestToken(a)).toBe(digestToken(a));
    expect(digestToken(a)).not.toBe(digestToken(generateOpaqueToken("session")));
  });

  it("problems never echo the token", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 16, maxLength: 80 }), (input) => {
        const problem = opaqueTokenProblem(input, "session");
        expect(problem).not.toBeNull();
        expect(problem?.includes(input)).toBe(false);
      }),
    );
  });
});

describe("the checksum", () => {
  it("is the base64url of the big-endian CRC32 of prefix and body", async () => {
    const { crc32 } = await import("node:zlib");
    const token = generateOpaqueToken("link");
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(crc32(token.slice(0, 47)));
    expect(token.slice(47)).toBe(bytes.toString("base64url"));
  });

  it("digests agree with createHash", async () => {
    const { createHash } = await import("node:crypto");
    const token = generateOpaqueToken("session");
    expect(digestToken(token)).toBe(createHash("sha256").update(token).digest("base64url"));
  });
});
