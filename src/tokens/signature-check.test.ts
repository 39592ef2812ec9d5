import { createHmac, createSecretKey } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hmacBase64url } from "./signature-check.js";

const HASHES = [
  { hash: "sha256", blockSize: 64 },
  { hash: "sha384", blockSize: 128 },
  { hash: "sha512", blockSize: 128 },
] as const;

describe("HMAC from two one-shot digests", () => {
  it.each(HASHES)("$hash equals createHmac for any key length and any ASCII input (property)", ({
    hash,
    blockSize,
  }) => {
    fc.assert(
      fc.property(
        // Keys shorter than, equal to and longer than the block (a long key is hashed first).
        fc.uint8Array({ minLength: 1, maxLength: 2 * blockSize + 1 }),
        // Inputs on both sides of the one-shot limit (2048 characters).
        fc.oneof(fc.string({ maxLength: 600 }), fc.string({ minLength: 2040, maxLength: 2100 })),
        (secret, input) => {
          const key = createSecretKey(secret);
          const mac = hmacBase64url(hash, blockSize, key);
          const expected = createHmac(hash, key).update(input).digest("base64url");
          expect(mac(input)).toBe(expected);
          // Its buffers are reused: a second, different input must not see the first.
          expect(mac(`${input}x`)).toBe(createHmac(hash, key).update(`${input}x`).digest("base64url"));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("matches RFC 4231 test case 2 and test case 6 (a key longer than the block)", () => {
    const case2 = hmacBase64url("sha256", 64, createSecretKey(Buffer.from("Jefe")));
    expect(Buffer.from(case2("what do ya want for nothing?") ?? "", "base64url").toString("hex")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    const case6 = hmacBase64url("sha512", 128, createSecretKey(Buffer.alloc(131, 0xaa)));
    expect(
      Buffer.from(
        case6("Test Using Larger Than Block-Size Key - Hash Key First") ?? "",
        "base64url",
      ).toString("hex"),
    ).toBe(
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352" +
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    );
  });

  it("answers null for an input outside ASCII, short or long (no JWT signing input is)", () => {
    const mac = hmacBase64url("sha256", 64, createSecretKey(Buffer.alloc(32, 7)));
    expect(mac("eyJhbGciOi\u0141.x")).toBeNull();
    expect(mac(`${"A".repeat(3000)}\u00e9`)).toBeNull();
    expect(mac("eyJhbGciOiJ.x")).not.toBeNull();
  });
});
