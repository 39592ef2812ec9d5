/**
 * Provider request formats (seed 001) over a real port with fetch: a provider that
 * declares form-urlencoded (built in) or a plugin-parsed format (XML here) takes its
 * input in that format, checked by its own schema; no other route does; and a form post
 * that a browser marks as coming from another site logs nobody in.
 */
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { makeEngine } from "../../../../test/kit.js";
import type { AuthProvider } from "../../../engine/providers.js";
import type { Tessera } from "../../../engine/tessera.js";
import { buildHttpApp } from "../app.js";

const FORM = "application/x-www-form-urlencoded";

const badge: AuthProvider<{ badge: string; deviceId?: string | undefined }> = {
  name: "badge",
  schema: z.object({ badge: z.string().min(3), deviceId: z.string().optional() }).strict(),
  contentTypes: [FORM, "application/xml"],
  async authenticate(input, context) {
    const user = await context.findOrCreateUser(input.badge);
    return { user, data: { badge: input.badge }, deviceId: input.deviceId ?? null };
  },
};

/** A deliberately tiny XML reader: `<login><badge>…</badge></login>` only. */
function parseLoginXml(text: string): unknown {
  const match = /^\s*<login>((?:\s*<([a-zA-Z]+)>[^<]*<\/\2>)*)\s*<\/login>\s*$/.exec(text);
  if (match === null) throw new Error("not a <login> document");
  const fields: Record<string, string> = {};
  for (const field of (match[1] ?? "").matchAll(/<([a-zA-Z]+)>([^<]*)<\/\1>/g)) {
    fields[field[1] ?? ""] = field[2] ?? "";
  }
  return fields;
}

let t: { tessera: Tessera; close(): Promise<void> };
let base: string;
beforeEach(async () => {
  const { tessera, store } = await makeEngine();
  await tessera.use({
    name: "xml-badge",
    providers: [badge],
    bodyParsers: { "application/xml": parseLoginXml },
  });
  const app = buildHttpApp({ tessera });
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  t = {
    tessera,
    async close() {
      await app.close();
      tessera.close();
      await store.close();
    },
  };
});
afterEach(() => t.close());

function post(path: string, body: string, headers: Record<string, string>) {
  return fetch(`${base}${path}`, { method: "POST", body, headers });
}

async function errorOf(response: Response): Promise<{ status: number; code: string }> {
  const json = (await response.json()) as { error: { code: string } };
  return { status: response.status, code: json.error.code };
}

describe("provider request formats", () => {
  it("a provider that declares form-urlencoded logs in from a form body, through its schema", async () => {
    const response = await post("/auth/login/badge", "badge=4711&deviceId=kiosk-1", {
      "content-type": `${FORM}; charset=utf-8`,
    });
    expect(response.status).toBe(200);
    const pair = (await response.json()) as { sessionId: string; user: { username: string } };
    expect(pair.user.username).toBe("4711");
    const session = await t.tessera.getSession(pair.sessionId);
    expect(session).toMatchObject({ deviceId: "kiosk-1", data: { badge: "4711" } });
  });

  it("a format a plugin parses (XML) reaches the same schema", async () => {
    const response = await post("/auth/login/badge", "<login><badge>0815</badge></login>", {
      "content-type": "application/xml",
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { user: { username: string } }).user.username).toBe("0815");
  });

  it("form fields the schema refuses are field issues, as for JSON", async () => {
    const short = await post("/auth/login/badge", "badge=1", { "content-type": FORM });
    expect(await errorOf(short)).toEqual({ status: 400, code: "invalid_request" });
    const unknown = await post("/auth/login/badge", "badge=4711&admin=1", { "content-type": FORM });
    const json = (await unknown.json()) as { error: { code: string; issues: unknown[] } };
    expect(json.error.code).toBe("invalid_request");
    expect(json.error.issues.length).toBeGreaterThan(0);
  });

  it("a repeated form field or a __proto__ field is invalid_request, never a guess", async () => {
    for (const text of ["badge=4711&badge=4712", "__proto__=x&badge=4711"]) {
      expect(await errorOf(await post("/auth/login/badge", text, { "content-type": FORM }))).toEqual({
        status: 400,
        code: "invalid_request",
      });
    }
  });

  it("a body its parser cannot read is invalid_request, not a 500", async () => {
    const response = await post("/auth/login/badge", "<login><badge>1</login>", {
      "content-type": "application/xml",
    });
    expect(await errorOf(response)).toEqual({ status: 400, code: "invalid_request" });
  });

  it("a format the provider did not declare is refused, even one another provider takes", async () => {
    const password = await post("/auth/login", "username=hero&password=secret123", { "content-type": FORM });
    expect(await errorOf(password)).toEqual({ status: 400, code: "invalid_request" });
    const text = await post("/auth/login/badge", "badge=4711", { "content-type": "text/plain" });
    expect(await errorOf(text)).toEqual({ status: 400, code: "invalid_request" });
  });

  it("routes other than provider login stay JSON only", async () => {
    const register = await post("/auth/register", "username=hero&password=secret123", {
      "content-type": FORM,
    });
    expect(await errorOf(register)).toEqual({ status: 400, code: "invalid_request" });
    expect(await t.tessera.findUser("hero")).toBeNull();
    const refresh = await post("/auth/refresh", "<refreshToken>x</refreshToken>", {
      "content-type": "application/xml",
    });
    expect(await errorOf(refresh)).toEqual({ status: 400, code: "invalid_request" });
  });

  it("an unknown provider is not_found whatever the format", async () => {
    const response = await post("/auth/login/carrier-pigeon", "a=1", { "content-type": FORM });
    expect(await errorOf(response)).toEqual({ status: 404, code: "not_found" });
  });
});

describe("cross-site form posts", () => {
  it("a form post another site's page sends logs nobody in (403 forbidden)", async () => {
    const byOrigin = await post("/auth/login/badge", "badge=4711", {
      "content-type": FORM,
      origin: "https://evil.example",
    });
    expect(await errorOf(byOrigin)).toEqual({ status: 403, code: "forbidden" });
    const bySite = await post("/auth/login/badge", "badge=4711", {
      "content-type": FORM,
      "sec-fetch-site": "cross-site",
    });
    expect(await errorOf(bySite)).toEqual({ status: 403, code: "forbidden" });
    expect(await t.tessera.findUser("4711")).toBeNull();
  });

  it("the same form from this server's own page, or from a non-browser client, logs in", async () => {
    const own = await post("/auth/login/badge", "badge=4711", { "content-type": FORM, origin: base });
    expect(own.status).toBe(200);
    const server = await post("/auth/login/badge", "badge=4712", { "content-type": FORM });
    expect(server.status).toBe(200);
  });

  it("a provider that carries its own proof may take cross-site form posts", async () => {
    t.tessera.registerProvider({ ...badge, name: "signed-badge", allowCrossSite: true });
    const response = await post("/auth/login/signed-badge", "badge=4711", {
      "content-type": FORM,
      origin: "https://partner.example",
      "sec-fetch-site": "cross-site",
    });
    expect(response.status).toBe(200);
  });

  it("a JSON login is not subject to the form rule (a page cannot send it without a preflight)", async () => {
    const response = await post("/auth/login/badge", JSON.stringify({ badge: "4711" }), {
      "content-type": "application/json",
      origin: "https://evil.example",
    });
    expect(response.status).toBe(200);
  });
});
