import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { body, errorCode, httpLogin, makeApp, type TestApp } from "../../../../test/http-kit.js";
import type { TokenPair } from "../../../engine/types.js";

let t: TestApp;
beforeEach(async () => {
  t = await makeApp();
});
afterEach(async () => {
  await t.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("POST /auth/register", () => {
  it("creates a user and answers 201 with its public fields only", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      payload: { username: "hero", password: "secret123" },
    });
    expect(response.statusCode).toBe(201);
    const { user } = body<{ user: Record<string, unknown> }>(response);
    expect(Object.keys(user).sort()).toEqual(["id", "username", "uuid"]);
    expect(user.username).toBe("hero");
    expect(user.id).toBeGreaterThan(0);
    expect(user.uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses a taken username with 409 username_taken", async () => {
    const payload = { username: "hero", password: "secret123" };
    await t.app.inject({ method: "POST", url: "/auth/register", payload });
    const again = await t.app.inject({ method: "POST", url: "/auth/register", payload });
    expect(again.statusCode).toBe(409);
    expect(errorCode(again)).toBe("username_taken");
  });

  it("names each wrong field in issues", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      payload: { username: 42, extra: true },
    });
    expect(response.statusCode).toBe(400);
    const { error } = body<{ error: { code: string; issues: { path: string }[] } }>(response);
    expect(error.code).toBe("invalid_request");
    const paths = error.issues.map((issue) => issue.path);
    expect(paths).toContain("username");
    expect(paths).toContain("password");
  });

  it("refuses an unknown field", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      payload: { username: "hero", password: "secret123", admin: true },
    });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("invalid_request");
  });

  it("refuses a password below the policy with a field issue", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/register",
      payload: { username: "hero", password: "short" },
    });
    expect(response.statusCode).toBe(400);
    expect(body<{ error: { issues: { path: string }[] } }>(response).error.issues[0]?.path).toBe("password");
  });
});

describe("POST /auth/login", () => {
  it("answers a JWT token pair with the contract's fields", async () => {
    const { pair, username } = await httpLogin(t.app);
    expect(pair.tokenType).toBe("jwt");
    expect(pair.accessToken.split(".")).toHaveLength(3);
    expect(pair.refreshToken.startsWith("tsr_")).toBe(true);
    expect(new Date(pair.accessExpiration).toISOString()).toBe(pair.accessExpiration);
    expect(new Date(pair.refreshExpiration).toISOString()).toBe(pair.refreshExpiration);
    expect(pair.user.username).toBe(username);
    expect(typeof pair.sessionId).toBe("string");
  });

  it("records the user agent and IP on the session", async () => {
    const { username, password } = await httpLogin(t.app);
    const login = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      headers: { "user-agent": "test-agent/1.0" },
      payload: { username, password },
    });
    const session = await t.tessera.getSession(body<TokenPair>(login).sessionId);
    expect(session?.metadata).toEqual({ userAgent: "test-agent/1.0", ipAddress: "127.0.0.1" });
  });

  it("answers 401 invalid_credentials for a wrong password and for an unknown user alike", async () => {
    const { username } = await httpLogin(t.app);
    const wrong = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username, password: "nope-nope" },
    });
    const unknown = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username: "nobody", password: "nope-nope" },
    });
    expect([wrong.statusCode, unknown.statusCode]).toEqual([401, 401]);
    expect(body(wrong)).toEqual(body(unknown));
    expect(errorCode(wrong)).toBe("invalid_credentials");
  });

  it("answers 429 rate_limited with Retry-After after repeated failures, and a success resets it", async () => {
    const { username, password } = await httpLogin(t.app);
    const fail = () =>
      t.app.inject({ method: "POST", url: "/auth/login", payload: { username, password: "wrong-password" } });
    for (let i = 0; i < 5; i++) expect((await fail()).statusCode).toBe(401);
    const limited = await fail();
    expect(limited.statusCode).toBe(429);
    expect(errorCode(limited)).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    t.clock.advance(Number(limited.headers["retry-after"]) * 1000);
    const ok = await t.app.inject({ method: "POST", url: "/auth/login", payload: { username, password } });
    expect(ok.statusCode).toBe(200);
    expect((await fail()).statusCode).toBe(401);
  });

  it("refuses unknown fields and wrong types in the provider input", async () => {
    const extra = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username: "hero", password: "secret123", remember: true },
    });
    expect(extra.statusCode).toBe(400);
    expect(errorCode(extra)).toBe("invalid_request");
    const typed = await t.app.inject({ method: "POST", url: "/auth/login", payload: { username: ["hero"] } });
    expect(typed.statusCode).toBe(400);
  });

  it("refuses a missing body with invalid_request", async () => {
    const response = await t.app.inject({ method: "POST", url: "/auth/login" });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("invalid_request");
  });

  it("logs in through the unamepwd alias, and answers 404 for an unknown provider", async () => {
    const { username, password } = await httpLogin(t.app);
    const alias = await t.app.inject({
      method: "POST",
      url: "/auth/login/unamepwd",
      payload: { username, password },
    });
    expect(alias.statusCode).toBe(200);
    expect(body<TokenPair>(alias).tokenType).toBe("jwt");
    const unknown = await t.app.inject({ method: "POST", url: "/auth/login/carrier-pigeon", payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(errorCode(unknown)).toBe("not_found");
  });

  it("ends the session that held a deviceId when a new login names it", async () => {
    const { username, password, pair } = await httpLogin(t.app, { deviceId: "phone" });
    await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username, password, deviceId: "phone" },
    });
    const old = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(old.statusCode).toBe(401);
    expect(errorCode(old)).toBe("token_revoked");
  });
});

describe("POST /auth/upgrade", () => {
  it("turns the Bearer JWT into a session token, sets the cookie, and refuses the JWT after", async () => {
    const { pair } = await httpLogin(t.app);
    const upgraded = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer(pair.accessToken),
    });
    expect(upgraded.statusCode).toBe(200);
    const next = body<TokenPair>(upgraded);
    expect(next.tokenType).toBe("session");
    expect(next.accessToken.startsWith("tss_")).toBe(true);
    expect(next.sessionId).toBe(pair.sessionId);
    const cookie = String(upgraded.headers["set-cookie"]);
    expect(cookie).toContain(`tessera_session=${next.accessToken}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);

    const old = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(old.statusCode).toBe(401);
    expect(errorCode(old)).toBe("token_revoked");
    const again = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer(pair.accessToken),
    });
    expect(again.statusCode).toBe(401);
    expect(errorCode(again)).toBe("token_revoked");
    const current = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(next.accessToken),
    });
    expect(current.statusCode).toBe(200);
  });

  it("accepts a body naming the same JWT, as seed 000's client sends it", async () => {
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer(pair.accessToken),
      payload: { token: pair.accessToken },
    });
    expect(response.statusCode).toBe(200);
  });

  it("takes an empty JSON object or null as no body, as generic HTTP clients send them", async () => {
    for (const payload of ["{}", "null", ""]) {
      const { pair } = await httpLogin(t.app);
      const response = await t.app.inject({
        method: "POST",
        url: "/auth/upgrade",
        headers: { ...bearer(pair.accessToken), "content-type": "application/json" },
        payload,
      });
      expect(response.statusCode, `body ${JSON.stringify(payload)}`).toBe(200);
      expect(body<TokenPair>(response).tokenType).toBe("session");
    }
  });

  it("refuses an unknown body field with invalid_request, upgrading nothing", async () => {
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer(pair.accessToken),
      payload: { tokne: pair.accessToken },
    });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("invalid_request");
    const still = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(body<{ session: { tokenType: string } }>(still).session.tokenType).toBe("jwt");
  });

  it("refuses a body naming a different JWT with invalid_request, upgrading neither", async () => {
    const first = await httpLogin(t.app);
    const second = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer(first.pair.accessToken),
      payload: { token: second.pair.accessToken },
    });
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe("invalid_request");
    const still = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(first.pair.accessToken),
    });
    expect(body<{ session: { tokenType: string } }>(still).session.tokenType).toBe("jwt");
  });

  it("refuses a missing token, a session token and garbage with token_invalid", async () => {
    const none = await t.app.inject({ method: "POST", url: "/auth/upgrade" });
    expect(none.statusCode).toBe(401);
    expect(errorCode(none)).toBe("token_invalid");
    const garbage = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer("not-a-token"),
    });
    expect(errorCode(garbage)).toBe("token_invalid");
    const basic = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: { authorization: "Basic abc" },
    });
    expect(basic.statusCode).toBe(401);
    expect(errorCode(basic)).toBe("token_invalid");
  });

  it("refuses an expired JWT with token_expired", async () => {
    const { pair } = await httpLogin(t.app);
    t.clock.advance(16 * 60 * 1000);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/upgrade",
      headers: bearer(pair.accessToken),
    });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("token_expired");
  });
});

describe("POST /auth/refresh", () => {
  it("rotates: a new pair of the session's kind, and the old token is spent", async () => {
    const { pair } = await httpLogin(t.app);
    const refreshed = await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: pair.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    const next = body<TokenPair>(refreshed);
    expect(next.tokenType).toBe("jwt");
    expect(next.refreshToken).not.toBe(pair.refreshToken);
    expect(next.sessionId).toBe(pair.sessionId);
    expect(refreshed.headers["set-cookie"]).toBeUndefined();
  });

  it("gives the same successor within the grace window, and revokes the session on reuse after it", async () => {
    const { pair } = await httpLogin(t.app);
    const refresh = (token: string) =>
      t.app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: token } });
    const first = body<TokenPair>(await refresh(pair.refreshToken));
    const retry = body<TokenPair>(await refresh(pair.refreshToken));
    expect(retry.refreshToken).toBe(first.refreshToken);
    t.clock.advance(11_000);
    const reused = await refresh(pair.refreshToken);
    expect(reused.statusCode).toBe(401);
    expect(errorCode(reused)).toBe("refresh_token_reused");
    const successor = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(first.accessToken),
    });
    expect(errorCode(successor)).toBe("token_revoked");
  });

  it("refreshes an upgraded session to a new session token and moves the cookie to it", async () => {
    const { pair } = await httpLogin(t.app);
    const upgraded = body<TokenPair>(
      await t.app.inject({ method: "POST", url: "/auth/upgrade", headers: bearer(pair.accessToken) }),
    );
    const refreshed = await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: upgraded.refreshToken },
    });
    const next = body<TokenPair>(refreshed);
    expect(next.tokenType).toBe("session");
    expect(String(refreshed.headers["set-cookie"])).toContain(`tessera_session=${next.accessToken}`);
  });

  it("refuses a malformed, an unknown and a missing refresh token", async () => {
    const malformed = await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: "tsr_x" },
    });
    expect(malformed.statusCode).toBe(401);
    expect(errorCode(malformed)).toBe("token_invalid");
    const missing = await t.app.inject({ method: "POST", url: "/auth/refresh", payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(body<{ error: { issues: { path: string }[] } }>(missing).error.issues[0]?.path).toBe(
      "refreshToken",
    );
    const { pair } = await httpLogin(t.app);
    const access = await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: pair.accessToken },
    });
    expect(access.statusCode).toBe(401);
    expect(errorCode(access)).toBe("token_invalid");
  });
});

describe("POST /auth/logout and /auth/logout-all", () => {
  it("logout answers 204, refuses every token of the session after, and clears the cookie", async () => {
    const { pair } = await httpLogin(t.app);
    const out = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: bearer(pair.accessToken),
    });
    expect(out.statusCode).toBe(204);
    expect(out.body).toBe("");
    expect(String(out.headers["set-cookie"])).toMatch(/tessera_session=;.*Expires=Thu, 01 Jan 1970/);
    const after = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(errorCode(after)).toBe("token_revoked");
    const refresh = await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: pair.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
  });

  it("logout without credentials is 401 token_invalid", async () => {
    const response = await t.app.inject({ method: "POST", url: "/auth/logout" });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("token_invalid");
  });

  it("logout-all ends every session of the user but not other users'", async () => {
    const { username, password, pair } = await httpLogin(t.app);
    const second = body<TokenPair>(
      await t.app.inject({ method: "POST", url: "/auth/login", payload: { username, password } }),
    );
    const stranger = await httpLogin(t.app);
    const out = await t.app.inject({
      method: "POST",
      url: "/auth/logout-all",
      headers: bearer(pair.accessToken),
    });
    expect(out.statusCode).toBe(204);
    for (const token of [pair.accessToken, second.accessToken]) {
      const response = await t.app.inject({ method: "GET", url: "/auth/session", headers: bearer(token) });
      expect(errorCode(response)).toBe("token_revoked");
    }
    const other = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(stranger.pair.accessToken),
    });
    expect(other.statusCode).toBe(200);
  });
});
