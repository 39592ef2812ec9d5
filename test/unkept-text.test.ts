/**
 * Text no store keeps as given — control characters (PostgreSQL's `text` refuses NUL) and
 * lone UTF-16 surrogates (U+FFFD on the way to UTF-8) — in a name or key a client chooses
 * is the client's mistake: 400 `invalid_request`, on PostgreSQL as on every store, never the
 * 503 `unavailable` the failed write used to become, nor two values stored as one.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signPayload } from "../src/engine/providers/sign-payload.js";
import { signedPayloadProvider } from "../src/engine/providers/signed-payload.js";
import { PostgresStore } from "../src/stores/postgres/postgres-store.js";
import { dropSchemas, rawClient, TEST_DATABASE_URL, uniqueSchema } from "./postgres-kit.js";
import { serveStore } from "./server-kit.js";

const schema = uniqueSchema("tessera_text");
const PARTNER = { keyId: "acme-1", secret: randomBytes(32).toString("base64url") };
let served: Awaited<ReturnType<typeof serveStore>>;

beforeAll(async () => {
  served = await serveStore(await PostgresStore.open({ url: TEST_DATABASE_URL, schema }));
  served.tessera.registerProvider(
    signedPayloadProvider({ partners: [{ ...PARTNER, algorithm: "HS256", partner: "acme" }] }),
  );
});
afterAll(async () => {
  await served?.close();
  await dropSchemas([schema]);
});

async function post(path: string, json: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${served.base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const UNKEPT = ["a\u0000b", "a\u0007b", "lone\ud800", "lone\udfff"];

describe("text no store keeps, on PostgreSQL", () => {
  it("a partner's subject with it is invalid_request, and makes no user", async () => {
    for (const sub of UNKEPT) {
      const claims = { sub, iat: Math.floor(Date.now() / 1000), nonce: randomUUID() };
      const answer = await post("/auth/login/signed-payload", signPayload(PARTNER, claims));
      expect(answer.status, JSON.stringify(sub)).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: "invalid_request" } });
    }
    const raw = await rawClient(schema);
    const { rows } = await raw.query("SELECT count(*)::int AS n FROM users");
    await raw.end();
    expect(rows).toEqual([{ n: 0 }]);
    const fine = { sub: "x\ud83d\ude00y", iat: Math.floor(Date.now() / 1000), nonce: randomUUID() };
    expect((await post("/auth/login/signed-payload", signPayload(PARTNER, fine))).status).toBe(200);
  });

  it("a deviceId or deviceName with it is invalid_request, and a registration's username too", async () => {
    const username = `text-${randomUUID().slice(0, 8)}`;
    expect((await post("/auth/register", { username, password: "secret123" })).status).toBe(201);
    for (const text of UNKEPT) {
      for (const field of ["deviceId", "deviceName"]) {
        const answer = await post("/auth/login", { username, password: "secret123", [field]: text });
        expect(answer.status, `${field} ${JSON.stringify(text)}`).toBe(400);
        expect(answer.body).toMatchObject({ error: { code: "invalid_request", issues: [{ path: field }] } });
      }
    }
    for (const name of ["lone\ud800", "lone\udbff"]) {
      const answer = await post("/auth/register", { username: name, password: "secret123" });
      expect(answer.status, JSON.stringify(name)).toBe(400);
      expect(answer.body).toMatchObject({
        error: { code: "invalid_request", issues: [{ path: "username" }] },
      });
    }
    expect((await fetch(`${served.base}/healthz`)).status).toBe(200);
  });
});
