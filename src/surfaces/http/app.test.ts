import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { body, errorCode, httpLogin, httpSession, makeApp, type TestApp } from "../../../test/http-kit.js";
import type { TokenPair } from "../../engine/types.js";
import { createLogger } from "../../server/logger.js";

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A logger made as `tessera serve` makes it, writing its lines into `lines`. */
function capturingLogger(level?: string): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger({
    ...(level === undefined ? {} : { level }),
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  return { lines, logger };
}

describe("framework errors become contract errors", () => {
  it("bad JSON is 400 invalid_request with the contract's body shape", async () => {
    t = await makeApp();
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      headers: { "content-type": "application/json" },
      payload: '{"username": "hero",',
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    const parsed = body<{ error: Record<string, unknown> }>(response);
    expect(Object.keys(parsed)).toEqual(["error"]);
    expect(parsed.error.code).toBe("invalid_request");
    expect(typeof parsed.error.message).toBe("string");
  });

  it("a body over the limit is 413 payload_too_large", async () => {
    t = await makeApp({}, { bodyLimitBytes: 2048 });
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      payload: { username: "hero", password: "x".repeat(4000) },
    });
    expect(response.statusCode).toBe(413);
    expect(errorCode(response)).toBe("payload_too_large");
  });

  it("the default body limit lets a full 1 MiB session data value through", async () => {
    t = await makeApp();
    const { pair } = await httpSession(t.app);
    const data = { blob: "x".repeat(1024 * 1024 - 20) };
    const response = await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: bearer(pair.accessToken),
      payload: data,
    });
    expect(response.statusCode).toBe(200);
  });

  it("an unsupported media type is 400 invalid_request", async () => {
    t = await makeApp();
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "username=hero&password=secret123",
    });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("invalid_request");
  });

  it("an unknown route or method is 404 not_found without echoing the path", async () => {
    t = await makeApp();
    const response = await t.app.inject({ method: "GET", url: "/auth/nowhere/tsl_secretsecret" });
    expect(response.statusCode).toBe(404);
    expect(errorCode(response)).toBe("not_found");
    expect(response.body).not.toContain("tsl_secretsecret");
    const method = await t.app.inject({ method: "PATCH", url: "/auth/session" });
    expect(method.statusCode).toBe(404);
  });

  it("a __proto__ key is refused", async () => {
    t = await makeApp();
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      headers: { "content-type": "application/json" },
      payload: '{"username":"a","password":"b","__proto__":{"admin":true}}',
    });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("invalid_request");
  });

  it("an unexpected failure is 500 internal_error with no stack for the client and the stack in the log", async () => {
    const { lines, logger } = capturingLogger();
    t = await makeApp({}, { logger });
    const registered = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      payload: { username: "boom", password: "secret123" },
    });
    expect(registered.statusCode).toBe(201);
    t.tessera.hook("login", () => {
      throw new Error("database exploded at /srv/secret/path");
    });
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username: "boom", password: "secret123" },
    });
    expect(response.statusCode).toBe(500);
    expect(errorCode(response)).toBe("internal_error");
    expect(response.body).not.toContain("exploded");
    expect(response.body).not.toContain("secret/path");
    expect(lines.join("")).toContain("exploded");
  });

  it("a closed store is 503 unavailable on an authenticated route, and /healthz says so", async () => {
    t = await makeApp();
    const { pair } = await httpLogin(t.app);
    expect((await t.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    await t.tessera.store.close();
    const health = await t.app.inject({ method: "GET", url: "/healthz" });
    expect(health.statusCode).toBe(503);
    expect(body(health)).toEqual({
      status: "unavailable",
      error: { code: "unavailable", message: expect.any(String) },
    });
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username: pair.user.username, password: "secret123" },
    });
    expect(response.statusCode).toBe(503);
    expect(errorCode(response)).toBe("unavailable");
  });
});

describe("health, keys and metrics", () => {
  it("GET /healthz is 200 {status: ok}", async () => {
    t = await makeApp();
    const response = await t.app.inject({ method: "GET", url: "/healthz" });
    expect(response.statusCode).toBe(200);
    expect(body(response)).toEqual({ status: "ok" });
  });

  it("GET /.well-known/jwks.json lists public keys only, including the kid of issued tokens", async () => {
    t = await makeApp();
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({ method: "GET", url: "/.well-known/jwks.json" });
    expect(response.statusCode).toBe(200);
    const { keys } = body<{ keys: Record<string, unknown>[] }>(response);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys)
      for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(key).not.toHaveProperty(secret);
    const header = JSON.parse(Buffer.from(pair.accessToken.split(".")[0] ?? "", "base64url").toString()) as {
      kid: string;
    };
    expect(keys.map((key) => key.kid)).toContain(header.kid);
  });

  it("GET /metrics counts logins, failures, validations, refreshes, reuse and revocations, and never a token", async () => {
    t = await makeApp();
    const { username, pair } = await httpLogin(t.app);
    await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username, password: "wrong-password" },
    });
    await t.app.inject({ method: "GET", url: "/auth/session", headers: bearer(pair.accessToken) });
    await t.app.inject({ method: "GET", url: "/auth/session", headers: bearer("garbage") });
    const next = body<TokenPair>(
      await t.app.inject({
        method: "POST",
        url: "/auth/refresh",
        payload: { refreshToken: pair.refreshToken },
      }),
    );
    t.clock.advance(11_000);
    await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: pair.refreshToken },
    });
    const response = await t.app.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain/);
    const text = response.body;
    expect(text).toMatch(/tessera_logins_total\{provider="password"\} 1/);
    expect(text).toMatch(/tessera_login_failures_total\{code="invalid_credentials"\} 1/);
    expect(text).toMatch(/tessera_validations_total\{result="ok"\} 1/);
    expect(text).toMatch(/tessera_validations_total\{result="token_invalid"\} 1/);
    expect(text).toMatch(/tessera_refreshes_total 1/);
    expect(text).toMatch(/tessera_refresh_reuse_detections_total 1/);
    expect(text).toMatch(/tessera_revocations_total\{reason="refresh_token_reused"\} 1/);
    expect(text).toMatch(
      /tessera_http_request_duration_seconds_count\{method="GET",route="\/auth\/session",status="200"\} 1/,
    );
    for (const secret of [pair.accessToken, pair.refreshToken, next.refreshToken, username]) {
      expect(text).not.toContain(secret);
    }
  });

  it("metrics: false turns /metrics off", async () => {
    t = await makeApp({}, { metrics: false });
    expect((await t.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(404);
  });
});

describe("the session cookie and CSRF", () => {
  it("a cookie authenticates reads without any CSRF header", async () => {
    t = await makeApp();
    const { pair } = await httpSession(t.app);
    const response = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: { cookie: `theme=dark; tessera_session=${pair.accessToken}` },
    });
    expect(response.statusCode).toBe(200);
  });

  it("a cookie-authenticated state change from another site is 403 forbidden and changes nothing", async () => {
    t = await makeApp();
    const { pair } = await httpSession(t.app);
    const cookie = `tessera_session=${pair.accessToken}`;
    const refused = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: { cookie, origin: "https://evil.example" },
    });
    expect(refused.statusCode).toBe(403);
    expect(errorCode(refused)).toBe("forbidden");
    const crossSite = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: { cookie, "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.statusCode).toBe(403);
    const still = await t.app.inject({ method: "GET", url: "/auth/session", headers: { cookie } });
    expect(still.statusCode).toBe(200);
  });

  it("a cookie-authenticated change with no browser signal (no Origin, Referer or Sec-Fetch-Site) goes through", async () => {
    t = await makeApp();
    const { pair } = await httpSession(t.app);
    const cookie = `tessera_session=${pair.accessToken}`;
    const response = await t.app.inject({ method: "POST", url: "/auth/logout", headers: { cookie } });
    expect(response.statusCode).toBe(204);
  });

  it("the X-Tessera-CSRF header or a same-origin Origin lets a cookie-authenticated change through", async () => {
    t = await makeApp();
    const first = await httpSession(t.app);
    const withHeader = await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: { cookie: `tessera_session=${first.pair.accessToken}`, "x-tessera-csrf": "1" },
      payload: { ok: true },
    });
    expect(withHeader.statusCode).toBe(200);
    const second = await httpSession(t.app);
    const sameOrigin = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: {
        cookie: `tessera_session=${second.pair.accessToken}`,
        origin: "http://localhost:80",
        host: "localhost:80",
      },
    });
    expect(sameOrigin.statusCode).toBe(204);
  });

  it("a configured link origin passes the Origin check", async () => {
    t = await makeApp({}, { linkOrigins: ["https://app.example.com"] });
    const { pair } = await httpSession(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: { cookie: `tessera_session=${pair.accessToken}`, origin: "https://app.example.com" },
    });
    expect(response.statusCode).toBe(204);
  });

  it("Bearer requests need no CSRF proof, and Bearer wins over a cookie", async () => {
    t = await makeApp();
    const mine = await httpSession(t.app);
    const other = await httpSession(t.app);
    const response = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: { ...bearer(mine.pair.accessToken), cookie: `tessera_session=${other.pair.accessToken}` },
    });
    expect(body<{ session: { id: string } }>(response).session.id).toBe(mine.pair.sessionId);
    const out = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: bearer(mine.pair.accessToken),
    });
    expect(out.statusCode).toBe(204);
  });

  it("the cookie is Secure behind a trusted proxy that says https, and not for an untrusted one", async () => {
    t = await makeApp({}, { trustProxy: true });
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: { ...bearer(pair.accessToken), "x-forwarded-proto": "https" },
    });
    expect(String(response.headers["set-cookie"])).toMatch(/; Secure$/);
    await t.close();
    t = await makeApp();
    const plain = await httpLogin(t.app);
    const untrusted = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: { ...bearer(plain.pair.accessToken), "x-forwarded-proto": "https" },
    });
    expect(String(untrusted.headers["set-cookie"])).not.toMatch(/Secure/);
  });
});

describe("logging", () => {
  it("each finished request is one line (request id, method, route pattern, status, ms) and one count in the metrics", async () => {
    const { lines, logger } = capturingLogger();
    t = await makeApp({}, { logger });
    await t.app.inject({ method: "GET", url: "/livez" });
    await t.app.inject({ method: "GET", url: "/no/such/route" });
    const requests = lines.map((line) => JSON.parse(line)).filter((line) => line.msg === "request");
    expect(requests).toEqual([
      expect.objectContaining({
        level: 30,
        reqId: expect.any(String),
        method: "GET",
        route: "/livez",
        status: 200,
        ms: expect.any(Number),
      }),
      expect.objectContaining({ method: "GET", route: "(unmatched)", status: 404 }),
    ]);
    const metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(
      /tessera_http_request_duration_seconds_count\{method="GET",route="\/livez",status="200"\} 1\n/,
    );
  });

  it("request logs carry the route pattern and never a token, password or cookie", async () => {
    const { lines, logger } = capturingLogger("trace");
    t = await makeApp({}, { logger });
    const { pair, password } = await httpLogin(t.app);
    const upgraded = body<TokenPair>(
      await t.app.inject({ method: "POST", url: "/auth/upgrade", headers: bearer(pair.accessToken) }),
    );
    await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: { cookie: `tessera_session=${upgraded.accessToken}` },
    });
    await t.app.inject({ method: "GET", url: `/auth/links/${upgraded.refreshToken}` });
    const log = lines.join("");
    expect(log).toContain('"route":"/auth/session"');
    for (const secret of [
      pair.accessToken,
      pair.refreshToken,
      upgraded.accessToken,
      upgraded.refreshToken,
      password,
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
