/**
 * The example plugin (`examples/plugin/`) end to end over a real port: a provider, a hook
 * and routes that came from the plugin alone, with the application's set-up untouched.
 */
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AcmePlugin, acmePlugin, acmeTicket } from "../examples/plugin/acme-plugin.js";
import type { Tessera } from "../src/engine/tessera.js";
import type { TokenPair } from "../src/engine/types.js";
import type { SessionStore } from "../src/stores/session-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { makeEngine } from "./kit.js";

const SECRET = "acme-shared-secret-of-at-least-32-bytes!";

let tessera: Tessera;
let store: SessionStore;
let plugin: AcmePlugin;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  ({ tessera, store } = await makeEngine());
  plugin = acmePlugin({ ticketSecret: SECRET, redirectTo: "/acme/home" });
  await tessera.use(plugin);
  app = buildHttpApp({ tessera });
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  tessera?.close();
  await store?.close();
});

function post(path: string, body: unknown): Promise<Response> {
  return fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("example plugin over HTTP", () => {
  it("its provider logs in through POST /auth/login/:provider, and its hook sees the session", async () => {
    const response = await post("/auth/login/acme-ticket", {
      account: "wile",
      ticket: acmeTicket(SECRET, "wile"),
      plan: "pro",
    });
    expect(response.status).toBe(200);
    const pair = (await response.json()) as TokenPair;
    expect(pair.tokenType).toBe("session");
    expect(pair.user.username).toBe("acme-ticket|wile");
    expect(plugin.audit.at(-1)).toEqual({
      sessionId: pair.sessionId,
      userId: pair.user.id,
      provider: "acme-ticket",
    });
  });

  it("its provider refuses a wrong ticket (401) and malformed input (400 with the field)", async () => {
    const wrong = await post("/auth/login/acme-ticket", {
      account: "wile",
      ticket: acmeTicket(SECRET, "road"),
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("invalid_credentials");
    const malformed = await post("/auth/login/acme-ticket", { account: "wile", ticket: "zz", extra: 1 });
    expect(malformed.status).toBe(400);
    const { error } = (await malformed.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(error.code).toBe("invalid_request");
    expect(error.issues.map((issue) => issue.path)).toContain("ticket");
  });

  it("its authenticated route sees the caller's session, and refuses anonymous callers", async () => {
    const login = await post("/auth/login/acme-ticket", {
      account: "coyote",
      ticket: acmeTicket(SECRET, "coyote"),
    });
    const { accessToken } = (await login.json()) as TokenPair;
    const me = await fetch(`${base}/acme/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ username: "acme-ticket|coyote", plan: "free" });
    const anonymous = await fetch(`${base}/acme/me`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("token_invalid");
  });

  it("its link route answers a pre-authenticated URL, redeemed once in the provider's own format", async () => {
    const issued = await post("/acme/links", {
      account: "road",
      ticket: acmeTicket(SECRET, "road"),
      plan: "pro",
    });
    expect(issued.status).toBe(201);
    const { path } = (await issued.json()) as { path: string };
    expect(path).toMatch(/^\/auth\/links\/tsl_/);

    const redeemed = await fetch(base + path);
    expect(redeemed.status).toBe(200);
    expect(redeemed.headers.get("content-type")).toBe("application/xml; charset=utf-8");
    expect(redeemed.headers.get("cache-control")).toBe("no-store");
    const xml = await redeemed.text();
    const token = /token="(tss_[^"]+)"/.exec(xml)?.[1] ?? "";
    const { session, user } = await tessera.validate(token);
    expect(user.username).toBe("acme-ticket|road");
    expect(session.data).toEqual({ via: "acme", plan: "pro" });

    const again = await fetch(base + path);
    expect(again.status).toBe(410);
    const refused = await post("/acme/links", { account: "road", ticket: acmeTicket(SECRET, "nope") });
    expect(refused.status).toBe(401);
  });

  it("a plugin with routes installed after the app was built is refused, not silently unserved", async () => {
    await expect(
      tessera.use({
        name: "late",
        routes: [{ method: "GET", path: "/late", handler: () => ({ body: null }) }],
      }),
    ).rejects.toThrow(/before the HTTP surface starts/);
  });
});
