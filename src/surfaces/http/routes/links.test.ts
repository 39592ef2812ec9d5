import { Writable } from "node:stream";
import type { LightMyRequestResponse } from "fastify";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { body, errorCode, httpLogin, httpSession, makeApp, type TestApp } from "../../../../test/http-kit.js";
import type { Session, TokenPair } from "../../../engine/types.js";

let t: TestApp;
afterEach(async () => {
  await t.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function issue(
  payload: Record<string, unknown> = {},
): Promise<{ url: string; path: string; token: string }> {
  const { pair } = await httpLogin(t.app);
  const response = await t.app.inject({
    method: "POST",
    url: "/auth/links",
    headers: bearer(pair.accessToken),
    payload,
  });
  if (response.statusCode !== 201) throw new Error(`issue failed: ${response.body}`);
  const { url } = body<{ url: string }>(response);
  const path = new URL(url).pathname;
  return { url, path, token: path.slice("/auth/links/".length) };
}

function expectRedemptionHeaders(response: LightMyRequestResponse): void {
  expect(response.headers["cache-control"]).toBe("no-store");
  expect(response.headers["referrer-policy"]).toBe("no-referrer");
}

describe("POST /auth/links", () => {
  it("answers 201 with an absolute single-use URL on the public URL (never the request's Host) and its expiry", async () => {
    t = await makeApp({}, { publicUrl: "http://sessions.example:8443" });
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/links",
      headers: { ...bearer(pair.accessToken), host: "evil.example" },
      payload: { data: { cart: 7 } },
    });
    expect(response.statusCode).toBe(201);
    const { url, expiresAt } = body<{ url: string; expiresAt: string }>(response);
    expect(url).toMatch(/^http:\/\/sessions\.example:8443\/auth\/links\/tsl_[A-Za-z0-9_-]{49}$/);
    expect(Date.parse(expiresAt) - t.clock()).toBe(600_000);
    expectRedemptionHeaders(response);
  });

  it("needs a session, and refuses unknown fields and bad values with field issues", async () => {
    t = await makeApp();
    const anonymous = await t.app.inject({ method: "POST", url: "/auth/links", payload: {} });
    expect(anonymous.statusCode).toBe(401);
    expect(errorCode(anonymous)).toBe("token_invalid");
    const { pair } = await httpLogin(t.app);
    const cases: [Record<string, unknown>, string][] = [
      [{ admin: true }, "(body)"],
      [{ ttlSeconds: 0 }, "ttlSeconds"],
      [{ ttlSeconds: 86_401 }, "ttlSeconds"],
      [{ ttlSeconds: "60" }, "ttlSeconds"],
      [{ confirm: "yes" }, "confirm"],
      [{ redirectTo: 5 }, "redirectTo"],
    ];
    for (const [payload, path] of cases) {
      const response = await t.app.inject({
        method: "POST",
        url: "/auth/links",
        headers: bearer(pair.accessToken),
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      const { error } = body<{ error: { code: string; issues: { path: string }[] } }>(response);
      expect(error.code).toBe("invalid_request");
      expect(error.issues.map((issue) => issue.path)).toContain(path);
    }
    const noBody = await t.app.inject({
      method: "POST",
      url: "/auth/links",
      headers: bearer(pair.accessToken),
    });
    expect(noBody.statusCode).toBe(201);
  });

  it("refuses open redirects: other hosts, protocol-relative and scheme tricks; allows configured origins", async () => {
    t = await makeApp({}, { linkOrigins: ["https://app.example"] });
    const { pair } = await httpLogin(t.app);
    const post = (redirectTo: string, host = "localhost") =>
      t.app.inject({
        method: "POST",
        url: "/auth/links",
        headers: { ...bearer(pair.accessToken), host },
        payload: { redirectTo },
      });
    for (const target of [
      "https://evil.example/",
      "//evil.example/path",
      "/\\evil.example",
      "https://app.example.evil.example/",
      "http://app.example/",
      "javascript:alert(1)",
      "https://app.example@evil.example/",
    ]) {
      const response = await post(target);
      expect(response.statusCode, target).toBe(400);
      expect(body<{ error: { issues: { path: string }[] } }>(response).error.issues[0]?.path).toBe(
        "redirectTo",
      );
    }
    // The request's own Host is the client's choice, so it does not make a URL allowed.
    expect((await post("http://evil.example/", "evil.example")).statusCode).toBe(400);
    expect((await post("/dashboard?tab=1")).statusCode).toBe(201);
    expect((await post("https://app.example/welcome")).statusCode).toBe(201);
  });

  it("a cookie-authenticated issue from another site needs the CSRF header", async () => {
    t = await makeApp();
    const { pair } = await httpSession(t.app);
    const cookie = `tessera_session=${pair.accessToken}`;
    const without = await t.app.inject({
      method: "POST",
      url: "/auth/links",
      headers: { cookie, origin: "https://elsewhere.example" },
      payload: {},
    });
    expect(without.statusCode).toBe(403);
    const withHeader = await t.app.inject({
      method: "POST",
      url: "/auth/links",
      headers: { cookie, origin: "https://elsewhere.example", "x-tessera-csrf": "1" },
      payload: {},
    });
    expect(withHeader.statusCode).toBe(201);
  });
});

describe("GET /auth/links/:token", () => {
  it("first use redirects with the session cookie to a new session carrying the data; later uses are 410 link_used", async () => {
    t = await makeApp();
    const data = { order: 42, lines: [{ sku: "A-1", qty: 2 }], note: "café ✓" };
    const link = await issue({ data, redirectTo: "/orders/42" });
    const first = await t.app.inject({ method: "GET", url: link.path, headers: { accept: "text/html" } });
    expect(first.statusCode).toBe(302);
    expect(first.headers.location).toBe("/orders/42");
    expectRedemptionHeaders(first);
    const setCookie = String(first.headers["set-cookie"]);
    expect(setCookie).toMatch(/^tessera_session=tss_[A-Za-z0-9_-]+; /);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Lax");
    expect(setCookie).toContain("Path=/");
    expect(setCookie).not.toContain("Secure");
    const sessionToken = /tessera_session=([^;]+)/.exec(setCookie)?.[1] ?? "";

    const current = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: { cookie: `tessera_session=${sessionToken}` },
    });
    expect(current.statusCode).toBe(200);
    expect(body<{ session: Session }>(current).session.data).toEqual(data);

    for (const accept of ["text/html", "application/json"]) {
      const again = await t.app.inject({ method: "GET", url: link.path, headers: { accept } });
      expect(again.statusCode).toBe(410);
      // A browser reads a page (contract "Browser pages"), a JSON client the error body.
      if (accept === "text/html") expect(again.body).toContain("<code>link_used</code>");
      else expect(errorCode(again)).toBe("link_used");
      expectRedemptionHeaders(again);
      expect(again.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("answers the token pair and session as JSON when asked, and redirects to the sessions page by default", async () => {
    t = await makeApp();
    const json = await issue({ data: [1, "two", null] });
    const response = await t.app.inject({
      method: "GET",
      url: json.path,
      headers: { accept: "application/json" },
    });
    expect(response.statusCode).toBe(200);
    const answer = body<TokenPair & { session: Session }>(response);
    expect(answer.tokenType).toBe("session");
    expect(answer.accessToken).toMatch(/^tss_/);
    expect(answer.refreshToken).toMatch(/^tsr_/);
    expect(answer.session.id).toBe(answer.sessionId);
    expect(answer.session.data).toEqual([1, "two", null]);
    expectRedemptionHeaders(response);

    const plain = await issue();
    const redirected = await t.app.inject({ method: "GET", url: plain.path });
    expect(redirected.statusCode).toBe(302);
    expect(redirected.headers.location).toBe("/account/sessions");
  });

  it("redirects to a configured origin, and sets Secure when served over HTTPS", async () => {
    t = await makeApp({}, { linkOrigins: ["https://app.example"], trustProxy: true });
    const link = await issue({ redirectTo: "https://app.example/in?x=1" });
    const response = await t.app.inject({
      method: "GET",
      url: link.path,
      headers: { "x-forwarded-proto": "https" },
    });
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe("https://app.example/in?x=1");
    expect(String(response.headers["set-cookie"])).toContain("Secure");
  });

  it("HEAD and OPTIONS never consume a link", async () => {
    t = await makeApp();
    const link = await issue({ data: "kept" });
    for (let i = 0; i < 3; i++) {
      const head = await t.app.inject({ method: "HEAD", url: link.path });
      expect(head.statusCode).toBe(200);
      expect(head.headers["set-cookie"]).toBeUndefined();
      expectRedemptionHeaders(head);
      const options = await t.app.inject({ method: "OPTIONS", url: link.path });
      expect(options.statusCode).toBe(204);
      expect(options.headers.allow).toBe("GET, HEAD, POST, OPTIONS");
    }
    const get = await t.app.inject({
      method: "GET",
      url: link.path,
      headers: { accept: "application/json" },
    });
    expect(get.statusCode).toBe(200);
    expect(body<{ session: Session }>(get).session.data).toBe("kept");
    const headAfter = await t.app.inject({ method: "HEAD", url: link.path });
    expect(headAfter.statusCode).toBe(410);
  });

  it("a confirm link shows a page on GET and is consumed only by its POST", async () => {
    t = await makeApp();
    const link = await issue({ confirm: true, data: { step: 2 }, redirectTo: "/next" });
    for (let i = 0; i < 2; i++) {
      const page = await t.app.inject({ method: "GET", url: link.path });
      expect(page.statusCode).toBe(200);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.headers["set-cookie"]).toBeUndefined();
      expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
      expect(page.headers["x-frame-options"]).toBe("DENY");
      expectRedemptionHeaders(page);
      expect(page.body).toMatch(/<form method="post">/);
      expect(page.body).not.toMatch(/<script|<link|<img|src=|href=/i);
      expect(page.body).not.toContain(link.token);
    }
    // What a browser sends for that form.
    const confirmed = await t.app.inject({
      method: "POST",
      url: link.path,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "confirm=1",
    });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers.location).toBe("/next");
    expect(String(confirmed.headers["set-cookie"])).toMatch(/^tessera_session=tss_/);
    expectRedemptionHeaders(confirmed);
    const again = await t.app.inject({
      method: "POST",
      url: link.path,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "confirm=1",
    });
    expect(again.statusCode).toBe(410);
    expect(errorCode(again)).toBe("link_used");
    const page = await t.app.inject({ method: "GET", url: link.path });
    expect(page.statusCode).toBe(410);
  });

  it("a confirmation POST with an oversized form body is refused with 413 and does not consume", async () => {
    t = await makeApp();
    const link = await issue({ confirm: true });
    const big = await t.app.inject({
      method: "POST",
      url: link.path,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `confirm=${"1".repeat(2000)}`,
    });
    expect(big.statusCode).toBe(413);
    expect((await t.app.inject({ method: "HEAD", url: link.path })).statusCode).toBe(200);
  });

  it("an expired link is 410 link_expired; a malformed one 401 token_invalid", async () => {
    t = await makeApp();
    const link = await issue({ ttlSeconds: 60 });
    t.clock.advance(60_000);
    for (const method of ["GET", "POST", "HEAD"] as const) {
      const response = await t.app.inject({ method, url: link.path });
      expect(response.statusCode, method).toBe(410);
      if (method !== "HEAD") expect(errorCode(response)).toBe("link_expired");
    }
    for (const bad of ["tsl_nope", `${link.token.slice(0, -1)}x`, `tss_${link.token.slice(4)}`, "%00"]) {
      const response = await t.app.inject({ method: "GET", url: `/auth/links/${bad}` });
      expect(response.statusCode, bad).toBe(401);
      expect(errorCode(response)).toBe("token_invalid");
      expectRedemptionHeaders(response);
    }
  });

  it("data over the session-data cap is refused with 413 and no link", async () => {
    t = await makeApp({ maxSessionDataBytes: 1000 });
    const { pair } = await httpLogin(t.app);
    const post = (data: string) =>
      t.app.inject({
        method: "POST",
        url: "/auth/links",
        headers: bearer(pair.accessToken),
        payload: { data },
      });
    expect((await post("x".repeat(998))).statusCode).toBe(201); // 1000 bytes as JSON
    const over = await post("x".repeat(999));
    expect(over.statusCode).toBe(413);
    expect(errorCode(over)).toBe("payload_too_large");
  });

  it("the issuing provider chooses the response format", async () => {
    t = await makeApp();
    t.tessera.registerProvider({
      name: "kiosk",
      schema: z.object({ badge: z.string() }).strict(),
      authenticate: async (input, context) => ({ user: await context.findOrCreateUser(input.badge) }),
      formatLinkResponse: (result) => ({
        contentType: "application/xml; charset=utf-8",
        body: `<session id="${result.sessionId}" user="${result.user.username}"/>`,
      }),
    });
    const { user } = await t.tessera.authenticate("kiosk", { badge: "badge-7" });
    const link = await t.tessera.issueLink({ userId: user.id, provider: "kiosk" });
    const response = await t.app.inject({ method: "GET", url: link.path });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("application/xml; charset=utf-8");
    expect(response.body).toMatch(/^<session id="[0-9a-f-]{36}" user="badge-7"\/>$/);
    expectRedemptionHeaders(response);
  });

  it("request logs never contain a link token", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    t = await makeApp({}, { logger: pino({ level: "trace" }, sink) });
    const link = await issue();
    await t.app.inject({ method: "HEAD", url: link.path });
    await t.app.inject({ method: "GET", url: link.path });
    await t.app.inject({ method: "GET", url: link.path });
    await t.app.inject({ method: "GET", url: `${link.path}x` });
    const log = lines.join("");
    expect(log).toContain("/auth/links/:token");
    expect(log).not.toContain(link.token.slice(4, 30));
  });
});
