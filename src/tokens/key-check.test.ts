import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { makeEngine } from "../../test/kit.js";
import { checkSigningKey } from "./key-check.js";
import { generateSigningKey, keyFromPem, type SigningAlgorithm } from "./keys.js";

const pem = (pair: { privateKey: { export(o: { type: "pkcs8"; format: "pem" }): string | Buffer } }) =>
  String(pair.privateKey.export({ type: "pkcs8", format: "pem" }));

describe("signing keys are checked before they are used", () => {
  it("a 1024-bit RSA key is refused for RS256 and PS256, naming the reason", async () => {
    const weak = pem(generateKeyPairSync("rsa", { modulusLength: 1024 }));
    for (const alg of ["RS256", "PS256"] as const) {
      const key = await keyFromPem(alg, weak, null, 0);
      await expect(checkSigningKey(key, Date.now())).rejects.toThrow(/at least 2048 bits, this one has 1024/);
    }
  });

  it("an EC key on another curve than P-256 is refused for ES256", async () => {
    const p384 = pem(generateKeyPairSync("ec", { namedCurve: "P-384" }));
    await expect(keyFromPem("ES256", p384, null, 0)).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringMatching(/cannot be used for ES256/),
    });
    // An Ed25519 key for RS256 likewise.
    const ed = pem(generateKeyPairSync("ed25519"));
    await expect(keyFromPem("RS256", ed, null, 0)).rejects.toThrow(/cannot be used for RS256/);
  });

  it("every generated key passes: shape and a test signature verified", async () => {
    for (const alg of ["EdDSA", "ES256", "RS256", "PS256", "HS256", "HS384", "HS512"] as SigningAlgorithm[]) {
      const { key } = await generateSigningKey(alg, Date.now());
      await expect(checkSigningKey(key, Date.now())).resolves.toBeUndefined();
    }
  });

  it("the engine refuses to open with a configured key that cannot sign", async () => {
    const weak = pem(generateKeyPairSync("rsa", { modulusLength: 1024 }));
    await expect(makeEngine({ jwt: { algorithm: "RS256", privateKeyPem: weak } })).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringMatching(/cannot be used: an RSA key needs at least 2048 bits/),
    });
  });
});
