import { afterEach, describe, expect, it } from "vitest";
import { body, errorCode, httpLogin, type TestApp } from "../../../../test/http-kit.js";
import { makeEngine } from "../../../../test/kit.js";
import type { TesseraPlugin } from "../../../engine/plugins.js";
import { TesseraError } from "../../../errors.js";
import { buildHttpApp } from "../app.js";

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** An app whose engine has `plugin` installed before the app is built. */
async function appWith(plugin: TesseraPlugin): Promise<TestApp> {
  const { tessera, store, clock } = await makeEngine();
  await tessera.use(plugin);
  const app = buildHttpApp({ tessera });
  await app.ready();
  return {
    app,
    tessera,
    clock,
    async close() {
      await app.close();
      tessera.close();
      await store.close();
    },
  };
}

describe("plugin routes over HTTP", () => {
  it("pass params, query, body and headers through, and answer JSON, raw text or nothing", async () => {
    t = await appWith({
      name: "echo",
      routes: [
        {
          method: "POST",
          path: "/echo/:id",
          handler: (request) => ({
            status: 202,
            headers: { "x-echo": "yes" },
            body: {
              id: request.params.id ?? null,
              q: typeof request.query.q === "string" ? request.query.q : null,
              body: request.body as never,
              agent: request.headers["user-agent"] ?? null,
              user: request.user?.username ?? null,
            },
          }),
        },
        {
          method: "GET",
          path: "/echo/xml",
          handler: () => ({ headers: { "content-type": "application/xml" }, body: "<ok/>" }),
        },
        { method: "GET", path: "/echo/string", handler: () => ({ body: "just a string" }) },
        { method: "DELETE", path: "/echo/:id", handler: () => ({ status: 204 }) },
      ],
    });
    const echoed = await t.app.inject({
      method: "POST",
      url: "/echo/42?q=hi",
      headers: { "user-agent": "probe" },
      payload: { a: [1, 2] },
    });
    expect(echoed.statusCode).toBe(202);
    expect(echoed.headers["x-echo"]).toBe("yes");
    expect(body(echoed)).toEqual({ id: "42", q: "hi", body: { a: [1, 2] }, agent: "probe", user: null });
    const xml = await t.app.inject({ method: "GET", url: "/echo/xml" });
    expect(xml.headers["content-type"]).toBe("application/xml");
    expect(xml.body).toBe("<ok/>");
    const text = await t.app.inject({ method: "GET", url: "/echo/string" });
    expect(text.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(text.body)).toBe("just a string");
    const empty = await t.app.inject({ method: "DELETE", url: "/echo/1" });
    expect(empty.statusCode).toBe(204);
    expect(empty.body).toBe("");
  });

  it("auth routes refuse anonymous callers and see the caller's session", async () => {
    t = await appWith({
      name: "private",
      routes: [
        {
          method: "GET",
          path: "/private/me",
          auth: true,
          handler: (request) => ({
            body: { user: request.user?.username ?? null, sid: request.session?.id ?? null },
          }),
        },
      ],
    });
    const anonymous = await t.app.inject({ method: "GET", url: "/private/me" });
    expect(anonymous.statusCode).toBe(401);
    expect(errorCode(anonymous)).toBe("token_invalid");
    const { pair, username } = await httpLogin(t.app);
    const me = await t.app.inject({
      method: "GET",
      url: "/private/me",
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(body(me)).toEqual({ user: username, sid: pair.sessionId });
  });

  it("a thrown TesseraError keeps its status; anything else, or a bad status, is a 500 without details", async () => {
    t = await appWith({
      name: "failing",
      routes: [
        {
          method: "GET",
          path: "/fail/gone",
          handler: () => {
            throw new TesseraError("link_expired", "Too late.");
          },
        },
        {
          method: "GET",
          path: "/fail/crash",
          handler: () => {
            throw new Error("secret internals");
          },
        },
        { method: "GET", path: "/fail/status", handler: () => ({ status: 99 }) },
      ],
    });
    const gone = await t.app.inject({ method: "GET", url: "/fail/gone" });
    expect(gone.statusCode).toBe(410);
    expect(body(gone)).toEqual({ error: { code: "link_expired", message: "Too late." } });
    for (const url of ["/fail/crash", "/fail/status"]) {
      const response = await t.app.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(500);
      expect(errorCode(response)).toBe("internal_error");
      expect(response.body).not.toContain("secret internals");
    }
  });
});
