import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { body, errorCode, makeApp, type TestApp } from "../../test/http-kit.js";
import { signPayload } from "../engine/providers/sign-payload.js";
import type { TokenPair } from "../engine/types.js";
import { ConfigError } from "./config.js";
import { installPartners, loadPartners } from "./partners.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-partners-"));
const ed = generateKeyPairSync("ed25519");
const secret = randomBytes(32).toString("base64url");
writeFileSync(join(dir, "acme.pub.pem"), ed.publicKey.export({ type: "spki", format: "pem" }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const goodFile = file("partners.json", {
  maxAgeSeconds: 120,
  partners: [
    { keyId: "acme-2026", algorithm: "Ed25519", publicKeyFile: "acme.pub.pem" },
    { keyId: "globex-1", algorithm: "HS256", secretEnv: "GLOBEX_SECRET" },
  ],
});

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("partners file", () => {
  it("registers signed-payload so both partners can log users in over HTTP", async () => {
    const app = await makeApp();
    t = app;
    installPartners(app.tessera, { partnersFile: goodFile }, { GLOBEX_SECRET: secret });
    const iat = Math.floor(app.clock() / 1000);
    const login = (payload: Record<string, string>) =>
      app.app.inject({ method: "POST", url: "/auth/login/signed-payload", payload });
    const acme = { keyId: "acme-2026", privateKey: ed.privateKey };
    const viaEd = await login(signPayload(acme, { sub: "ana", iat, nonce: "n-0123456789abcdef" }));
    expect(viaEd.statusCode).toBe(200);
    expect(body<TokenPair>(viaEd).user.username).toBe("signed-payload|acme-2026|ana");
    const viaHmac = await login(
      signPayload({ keyId: "globex-1", secret }, { sub: "bo", iat, nonce: "n-0123456789abcdef" }),
    );
    expect(viaHmac.statusCode).toBe(200);
    expect(body<TokenPair>(viaHmac).user.username).toBe("signed-payload|globex-1|bo");
    // maxAgeSeconds 120 from the file, plus the default 30 s of skew.
    const stale = await login(signPayload(acme, { sub: "ana", iat: iat - 151, nonce: "n-fedcba9876543210" }));
    expect(stale.statusCode).toBe(401);
    expect(errorCode(stale)).toBe("invalid_credentials");
  });

  it("reads HMAC secrets from the named environment variable", () => {
    const options = loadPartners(goodFile, { GLOBEX_SECRET: secret });
    expect(options.maxAgeSeconds).toBe(120);
    expect(options.partners.map((partner) => partner.keyId)).toEqual(["acme-2026", "globex-1"]);
    expect(options.partners[1]).toMatchObject({ algorithm: "HS256", secret });
  });

  it("reads each key's identity settings: partner, createUsers, adoptExistingUsers", () => {
    const path = file("identities.json", {
      partners: [
        { keyId: "acme-2026", algorithm: "HS256", secret, partner: "acme", createUsers: false },
        { keyId: "old-1", algorithm: "Ed25519", publicKeyFile: "acme.pub.pem", adoptExistingUsers: true },
      ],
    });
    const [acme, old] = loadPartners(path, {}).partners;
    expect(acme).toMatchObject({ partner: "acme", createUsers: false });
    expect(acme).not.toHaveProperty("adoptExistingUsers");
    expect(old).toMatchObject({ adoptExistingUsers: true });
    expect(old).not.toHaveProperty("partner");
  });

  it("stops start-up with a clear ConfigError that never shows a secret", () => {
    const bad: [unknown, RegExp][] = [
      ["{not json", /Cannot read partners file/],
      [{ partners: [] }, /partners/],
      [{ partners: [{ keyId: "a", algorithm: "RS256", secret }] }, /algorithm/],
      [{ partners: [{ keyId: "a", algorithm: "HS256", secret: "short-secret" }] }, /32 bytes/],
      [{ partners: [{ keyId: "a", algorithm: "HS256", secretEnv: "MISSING" }] }, /MISSING is not set/],
      [{ partners: [{ keyId: "a", algorithm: "HS256", secret, secretEnv: "X" }] }, /exactly one/],
      [
        { partners: [{ keyId: "a", algorithm: "Ed25519", publicKeyFile: "nope.pem" }] },
        /cannot read publicKeyFile/,
      ],
      [{ partners: [{ keyId: "a", algorithm: "Ed25519", publicKeyPem: "not a key" }] }, /not a public key/],
      [{ partners: [{ keyId: "a", algorithm: "HS256", secret }], extra: 1 }, /Invalid partners file/],
      [{ partners: [{ keyId: "a", algorithm: "HS256", secret, partner: "a b" }] }, /partner "a b"/],
      [{ partners: [{ keyId: "a", algorithm: "HS256", secret, createUsers: "no" }] }, /createUsers/],
    ];
    for (const [content, message] of bad) {
      const path = file("bad.json", content);
      let error: unknown;
      try {
        loadPartners(path, {});
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(content)).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(secret);
    }
    expect(() => loadPartners(join(dir, "absent.json"))).toThrow(ConfigError);
  });

  it("without a partners file there is no signed-payload provider", async () => {
    t = await makeApp();
    installPartners(t.tessera, { partnersFile: null });
    const response = await t.app.inject({ method: "POST", url: "/auth/login/signed-payload", payload: {} });
    expect(response.statusCode).toBe(404);
  });
});
