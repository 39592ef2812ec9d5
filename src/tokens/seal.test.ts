import { describe, expect, it } from "vitest";
import { generateOpaqueToken } from "./opaque.js";
import { seal, unseal } from "./seal.js";

describe("sealing a successor", () => {
  it("opens only with the token it was sealed under", () => {
    const token = generateOpaqueToken("refresh");
    const sealed = seal(token, '{"refreshToken":"x"}');
    expect(unseal(token, sealed)).toBe('{"refreshToken":"x"}');
    expect(unseal(generateOpaqueToken("refresh"), sealed)).toBeNull();
  });

  it("refuses a tampered ciphertext", () => {
    const token = generateOpaqueToken("refresh");
    const sealed = seal(token, "secret pair");
    const raw = Buffer.from(sealed, "base64url");
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    expect(unseal(token, raw.toString("base64url"))).toBeNull();
    expect(unseal(token, "garbage")).toBeNull();
  });

  it("does not contain the plaintext", () => {
    const token = generateOpaqueToken("refresh");
    expect(Buffer.from(seal(token, "tsr_plain"), "base64url").toString("latin1")).not.toContain("tsr_plain");
  });
});
