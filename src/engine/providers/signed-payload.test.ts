import { generateKeyPairSync, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, makeEngine } from "../../../test/kit.js";
import type { Tessera } from "../tessera.js";
import { type PartnerClaims, type PartnerKey, signEncodedPayload, signPayload } from "./sign-payload.js";
import { signedPayloadProvider } from "./signed-payload.js";

const ed = generateKeyPairSync("ed25519");
const otherEd = generateKeyPairSync("ed25519");
const HMAC_SECRET = randomBytes(32).toString("base64url");

const edKey: PartnerKey = { keyId: "acme-ed-1", privateKey: ed.privateKey };
const hmacKey: PartnerKey = { keyId: "globex.hs:2026", secret: HMAC_SECRET };

const engines: Tessera[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

async function setup(maxAgeSeconds?: number) {
  const made = await makeEngine();
  engines.push(made.tessera);
  made.tessera.registerProvider(
    signedPayloadProvider({
      partners: [
        {
          keyId: "acme-ed-1",
          algorithm: "Ed25519",
          publicKeyPem: ed.publicKey.export({ type: "spki", format: "pem" }).toString(),
        },
        { keyId: "globex.hs:2026", algorithm: "HS256", secret: HMAC_SECRET },
      ],
      ...(maxAgeSeconds === undefined ? {} : { maxAgeSeconds }),
    }),
  );
  return made;
}

let counter = 0;
function claims(now: number, extra: Partial<PartnerClaims> = {}): PartnerClaims {
  return {
    sub: "partner-user",
    iat: Math.floor(now / 1000),
    nonce: `nonce-${++counter}-${randomBytes(8).toString("hex")}`,
    data: { basket: [1, 2, 3], locale: "fr-CH" },
    ...extra,
  };
}

const flipLast = (text: string) => text.slice(0, -2) + (text.at(-2) === "A" ? "B" : "A") + text.slice(-1);

describe.each([
  ["Ed25519", edKey],
  ["HS256", hmacKey],
])("signed-payload with %s", (_name, key) => {
  it("a valid payload finds or creates its user and starts a session carrying its data", async () => {
    const { tessera, clock } = await setup();
    const pair = await tessera.loginWith("signed-payload", signPayload(key, claims(clock())));
    // The partner's namespace: the key's partner (its keyId here) and the sub.
    expect(pair.user.username).toBe(`signed-payload|${key.keyId}|partner-user`);
    const { session } = await tessera.validate(pair.accessToken);
    expect(session.data).toEqual({ basket: [1, 2, 3], locale: "fr-CH" });
    // The same user again, not a second one.
    const again = await tessera.loginWith(
      "signed-payload",
      signPayload(key, claims(clock(), { deviceId: "till-3" })),
    );
    expect(again.user.id).toBe(pair.user.id);
    expect((await tessera.validate(again.accessToken)).session.deviceId).toBe("till-3");
  });

  it("a bad signature is invalid_credentials", async () => {
    const { tessera, clock } = await setup();
    const signed = signPayload(key, claims(clock()));
    const tampered = { ...signed, signature: flipLast(signed.signature) };
    const error = await tessera.loginWith("signed-payload", tampered).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_credentials", message: expect.stringMatching(/signature/) });
    // A payload changed after signing fails too.
    const other = signPayload(key, { ...claims(clock()), sub: "someone-else" });
    expect(await codeOf(tessera.loginWith("signed-payload", { ...signed, payload: other.payload }))).toBe(
      "invalid_credentials",
    );
    // So does a signature from another key under this key id.
    const forged = signPayload(
      key.secret === undefined
        ? { keyId: key.keyId, privateKey: otherEd.privateKey }
        : { keyId: key.keyId, secret: randomBytes(32) },
      claims(clock()),
    );
    expect(await codeOf(tessera.loginWith("signed-payload", forged))).toBe("invalid_credentials");
  });

  it("a stale payload, or one from the future, is invalid_credentials", async () => {
    const { tessera, clock } = await setup(60);
    const now = clock();
    // 60 s window plus 30 s skew: 89 s old passes, 91 s old does not.
    expect(
      (await tessera.loginWith("signed-payload", signPayload(key, claims(now - 89_000)))).user.username,
    ).toBe(`signed-payload|${key.keyId}|partner-user`);
    const stale = await tessera
      .loginWith("signed-payload", signPayload(key, claims(now - 91_000)))
      .catch((e) => e);
    expect(stale).toMatchObject({ code: "invalid_credentials", message: expect.stringMatching(/older/) });
    const future = await tessera
      .loginWith("signed-payload", signPayload(key, claims(now + 31_000)))
      .catch((e) => e);
    expect(future).toMatchObject({ code: "invalid_credentials", message: expect.stringMatching(/future/) });
  });

  it("a replayed nonce is invalid_credentials, and the first session stands", async () => {
    const { tessera, clock } = await setup();
    const signed = signPayload(key, claims(clock()));
    const first = await tessera.loginWith("signed-payload", signed);
    const replay = await tessera.loginWith("signed-payload", signed).catch((e: unknown) => e);
    expect(replay).toMatchObject({
      code: "invalid_credentials",
      message: expect.stringMatching(/already used/),
    });
    // Re-signed with the same nonce is still a replay.
    const resigned = signPayload(key, {
      ...claims(clock()),
      nonce: JSON.parse(decode(signed.payload)).nonce,
    });
    expect(await codeOf(tessera.loginWith("signed-payload", resigned))).toBe("invalid_credentials");
    expect((await tessera.validate(first.accessToken)).session.userId).toBe(first.user.id);
  });

  it("an unknown key id is invalid_credentials", async () => {
    const { tessera, clock } = await setup();
    const signed = signPayload({ ...key, keyId: "nobody" }, claims(clock()));
    const error = await tessera.loginWith("signed-payload", signed).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "invalid_credentials",
      message: expect.stringMatching(/Unknown partner key/),
    });
  });

  it("a malformed request or payload is invalid_request naming the field", async () => {
    const { tessera, clock } = await setup();
    const signed = signPayload(key, claims(clock()));
    const issuesOf = async (body: unknown) => {
      const error = (await tessera.loginWith("signed-payload", body).catch((e: unknown) => e)) as {
        code: string;
        issues?: { path: string }[];
      };
      expect(error.code).toBe("invalid_request");
      return (error.issues ?? []).map((issue) => issue.path);
    };
    expect(await issuesOf({ ...signed, extra: 1 })).toContain("(body)");
    expect(await issuesOf({ keyId: signed.keyId, payload: signed.payload })).toContain("signature");
    expect(await issuesOf({ ...signed, payload: "not base64url!" })).toContain("payload");
    expect(await issuesOf({ ...signed, keyId: "bad key id" })).toContain("keyId");
    expect(await issuesOf("a string")).toContain("(body)");
    // Correctly signed, but not what a payload must be.
    const signedText = (text: string) =>
      signEncodedPayload(key, Buffer.from(text, "utf8").toString("base64url"));
    expect(await issuesOf(signedText("{not json"))).toEqual(["payload"]);
    expect(await issuesOf(signedText(JSON.stringify({ sub: "x", nonce: "n".repeat(16) })))).toEqual([
      "payload.iat",
    ]);
    expect(await issuesOf(signedText(JSON.stringify({ sub: "x", iat: 1, nonce: "short" })))).toEqual([
      "payload.nonce",
    ]);
    expect(await issuesOf(signedText(JSON.stringify({ ...claims(clock()), admin: true })))).toEqual([
      "payload",
    ]);
  });
});

describe("signed-payload configuration", () => {
  it("refuses short HMAC secrets, non-Ed25519 keys, duplicate and malformed key ids", () => {
    expect(() =>
      signedPayloadProvider({ partners: [{ keyId: "a", algorithm: "HS256", secret: "too short" }] }),
    ).toThrow(/32 bytes/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const rsaPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(() =>
      signedPayloadProvider({ partners: [{ keyId: "a", algorithm: "Ed25519", publicKeyPem: rsaPem }] }),
    ).toThrow(/Ed25519/);
    const partner = { keyId: "a", algorithm: "HS256", secret: HMAC_SECRET } as const;
    expect(() => signedPayloadProvider({ partners: [partner, partner] })).toThrow(/twice/);
    expect(() => signedPayloadProvider({ partners: [{ ...partner, keyId: "a b" }] })).toThrow(/key id/);
  });

  it("error messages never contain the payload or the signature", async () => {
    const { tessera, clock } = await setup();
    const signed = signPayload(hmacKey, claims(clock()));
    await tessera.loginWith("signed-payload", signed);
    const messages: string[] = [];
    for (const body of [
      { ...signed, signature: flipLast(signed.signature) },
      signed,
      { ...signed, keyId: "x" },
    ]) {
      messages.push(
        ((await tessera.loginWith("signed-payload", body).catch((e: unknown) => e)) as Error).message,
      );
    }
    expect(new Set(messages).size).toBe(3);
    for (const message of messages) {
      expect(message).not.toContain(signed.signature);
      expect(message).not.toContain(signed.payload.slice(0, 20));
    }
  });
});

function decode(payload: string): string {
  return Buffer.from(payload, "base64url").toString("utf8");
}
