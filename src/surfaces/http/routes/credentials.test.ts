import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { body, errorCode, httpLogin, httpSession, makeApp, type TestApp } from "../../../../test/http-kit.js";
import type { Session } from "../../../engine/types.js";
import { TesseraError } from "../../../errors.js";

let t: TestApp;
beforeEach(async () => {
  t = await makeApp();
});
afterEach(async () => {
  await t.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const MINUTE = 60_000;

/** The contract's error body, exactly: never a 500, never Fastify's own shape. */
function expectError(response: { statusCode: number; body: string }, status: number, code: string): void {
  expect(response.statusCode).toBe(status);
  expect(JSON.parse(response.body)).toMatchObject({ error: { code, message: expect.any(String) } });
}

describe("POST /auth/reauthenticate", () => {
  it("answers 200 {session} with a new authenticatedAt on the same session", async () => {
    const { pair } = await httpLogin(t.app);
    t.clock.advance(5 * MINUTE);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/reauthenticate",
      headers: bearer(pair.accessToken),
      payload: { password: "secret123" },
    });
    expect(response.statusCode).toBe(200);
    const { session } = body<{ session: Session }>(response);
    expect(session.id).toBe(pair.sessionId);
    expect(session.authenticatedAt).toBe(new Date(t.clock()).toISOString());
    expect(session.authMethods).toEqual(["pwd"]);
    // No new tokens: the same JWT still stands for the session.
    expect(response.body).not.toContain("accessToken");
  });

  it("takes the session cookie (same-site)", async () => {
    const { pair } = await httpSession(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/reauthenticate",
      headers: { cookie: `tessera_session=${pair.accessToken}`, "x-tessera-csrf": "1" },
      payload: { password: "secret123" },
    });
    expect(response.statusCode).toBe(200);
  });

  it("a wrong password is 401 invalid_credentials, and repeated it is throttled (429)", async () => {
    const { pair } = await httpLogin(t.app);
    const attempt = () =>
      t.app.inject({
        method: "POST",
        url: "/auth/reauthenticate",
        headers: bearer(pair.accessToken),
        payload: { password: "wrong-one" },
      });
    for (let i = 0; i < 5; i++) expectError(await attempt(), 401, "invalid_credentials");
    const throttled = await attempt();
    expectError(throttled, 429, "rate_limited");
    expect(throttled.headers["retry-after"]).toBeDefined();
  });

  it("missing, wrong-typed, oversized and unknown fields are 400 invalid_request naming the field", async () => {
    const { pair } = await httpLogin(t.app);
    const send = (payload: unknown) =>
      t.app.inject({
        method: "POST",
        url: "/auth/reauthenticate",
        headers: { ...bearer(pair.accessToken), "content-type": "application/json" },
        payload: JSON.stringify(payload),
      });
    for (const [payload, path] of [
      [{}, "password"],
      [{ password: 7 }, "password"],
      [{ password: "" }, "password"],
      [{ password: "x".repeat(5000) }, "password"],
      [{ password: "secret123", admin: true }, "(body)"],
      [{ provider: 42 }, "provider"],
      [{ provider: "x".repeat(41) }, "provider"],
      [{ provider: "nope" }, "provider"],
    ] as const) {
      const response = await send(payload);
      expectError(response, 400, "invalid_request");
      expect(body<{ error: { issues: { path: string }[] } }>(response).error.issues[0]?.path).toBe(path);
    }
    expectError(await send(null), 400, "invalid_request");
    expectError(await send([1]), 400, "invalid_request");
    expectError(
      await t.app.inject({
        method: "POST",
        url: "/auth/reauthenticate",
        headers: { ...bearer(pair.accessToken), "content-type": "application/json" },
        payload: "{not json",
      }),
      400,
      "invalid_request",
    );
  });

  it("without a credential is 401 token_invalid; after logout 401 token_revoked", async () => {
    expectError(
      await t.app.inject({ method: "POST", url: "/auth/reauthenticate", payload: { password: "secret123" } }),
      401,
      "token_invalid",
    );
    const { pair } = await httpLogin(t.app);
    await t.tessera.logout(pair.sessionId);
    expectError(
      await t.app.inject({
        method: "POST",
        url: "/auth/reauthenticate",
        headers: bearer(pair.accessToken),
        payload: { password: "secret123" },
      }),
      401,
      "token_revoked",
    );
  });

  it("through a provider: {provider, ...fields} checked by its schema, proof of another user refused", async () => {
    t.tessera.registerProvider({
      name: "badge",
      schema: z.object({ badge: z.string().min(1).max(64) }).strict(),
      async authenticate(input, context) {
        if (input.badge === "forged") throw new TesseraError("invalid_credentials", "Unknown badge.");
        return { user: await context.findOrCreateUser(input.badge) };
      },
    });
    const pair = await t.tessera.loginWith("badge", { badge: "ada" });
    const send = (payload: unknown) =>
      t.app.inject({
        method: "POST",
        url: "/auth/reauthenticate",
        headers: bearer(pair.accessToken),
        payload: payload as Record<string, unknown>,
      });
    const ok = await send({ provider: "badge", badge: "ada" });
    expect(ok.statusCode).toBe(200);
    expect(body<{ session: Session }>(ok).session.authMethods).toEqual(["badge"]);
    expectError(await send({ provider: "badge", badge: "grace" }), 401, "invalid_credentials");
    expectError(await send({ provider: "badge", badge: "forged" }), 401, "invalid_credentials");
    expectError(await send({ provider: "badge", pin: "1" }), 400, "invalid_request");
  });
});

describe("POST /auth/password", () => {
  const change = (token: string, payload: unknown) =>
    t.app.inject({
      method: "POST",
      url: "/auth/password",
      headers: { ...bearer(token), "content-type": "application/json" },
      payload: JSON.stringify(payload),
    });

  it("answers 204, ends every other session of the user, keeps the current one", async () => {
    const { username, pair } = await httpLogin(t.app);
    const other = await t.tessera.login({ username, password: "secret123", deviceId: "phone" });
    const response = await change(pair.accessToken, {
      currentPassword: "secret123",
      newPassword: "brand-new-secret",
    });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe("");
    const current = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(current.statusCode).toBe(200);
    const ended = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(other.accessToken),
    });
    expectError(ended, 401, "token_revoked");
    const oldLogin = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username, password: "secret123" },
    });
    expectError(oldLogin, 401, "invalid_credentials");
    const newLogin = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username, password: "brand-new-secret" },
    });
    expect(newLogin.statusCode).toBe(200);
  });

  it("a wrong current password is 401 invalid_credentials and nothing changes", async () => {
    const { username, pair } = await httpLogin(t.app);
    const other = await t.tessera.login({ username, password: "secret123" });
    expectError(
      await change(pair.accessToken, { currentPassword: "not-it", newPassword: "brand-new-secret" }),
      401,
      "invalid_credentials",
    );
    const still = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(other.accessToken),
    });
    expect(still.statusCode).toBe(200);
  });

  it("bad bodies are 400 invalid_request naming the field; a weak new password names newPassword", async () => {
    const { pair } = await httpLogin(t.app);
    for (const [payload, path] of [
      [{}, "currentPassword"],
      [{ currentPassword: "secret123" }, "newPassword"],
      [{ currentPassword: 1, newPassword: "brand-new-secret" }, "currentPassword"],
      [{ currentPassword: "secret123", newPassword: "x".repeat(4097) }, "newPassword"],
      [{ currentPassword: "secret123", newPassword: "short" }, "newPassword"],
      [{ currentPassword: "secret123", newPassword: "brand-new-secret", extra: 1 }, "(body)"],
    ] as const) {
      const response = await change(pair.accessToken, payload);
      expectError(response, 400, "invalid_request");
      expect(body<{ error: { issues: { path: string }[] } }>(response).error.issues[0]?.path).toBe(path);
    }
    expectError(await change(pair.accessToken, "a string"), 400, "invalid_request");
  });

  it("an oversized body is 413 payload_too_large with the contract body", async () => {
    await t.close();
    t = await makeApp({}, { bodyLimitBytes: 2048 });
    const { pair } = await httpLogin(t.app);
    expectError(
      await change(pair.accessToken, { currentPassword: "secret123", newPassword: "y".repeat(4000) }),
      413,
      "payload_too_large",
    );
  });

  it("a cookie-authenticated change from another site is 403 forbidden (CSRF)", async () => {
    const { pair } = await httpSession(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/password",
      headers: { cookie: `tessera_session=${pair.accessToken}`, origin: "https://elsewhere.example" },
      payload: { currentPassword: "secret123", newPassword: "brand-new-secret" },
    });
    expectError(response, 403, "forbidden");
  });
});

describe("listing and revoking one's own sessions never demand freshness", () => {
  it("a day-old login lists and revokes its sessions", async () => {
    const { username, pair } = await httpSession(t.app);
    const other = await t.tessera.login({ username, password: "secret123" });
    t.clock.advance(24 * 60 * MINUTE);
    const listed = await t.app.inject({
      method: "GET",
      url: "/auth/sessions",
      headers: bearer(pair.accessToken),
    });
    expect(listed.statusCode).toBe(200);
    const revoked = await t.app.inject({
      method: "DELETE",
      url: `/auth/sessions/${other.sessionId}`,
      headers: bearer(pair.accessToken),
    });
    expect(revoked.statusCode).toBe(204);
    const refreshed = await t.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: other.refreshToken },
    });
    expect(errorCode(refreshed)).toBe("token_revoked");
  });
});
