/**
 * Session policy through `tessera serve`'s own composition root, over real ports with
 * real clients (fetch, ws, @grpc/grpc-js, the CLI): the settings of the contract's
 * "Deployment" table and what they do on every surface. The only fake is the engine's
 * clock.
 */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/server/config.js";
import { cli } from "./cli-kit.js";
import { bearer, call, failureOf, type SessionClient, sessionClient } from "./grpc-kit.js";
import { FAST_PASSWORDS, testClock } from "./kit.js";
import { startTestServer } from "./server-kit.js";
import { closeOf, openWebSocket } from "./socket-kit.js";

type Running = Awaited<ReturnType<typeof startTestServer>>;
/** A JSON answer: a token pair, or `{error}`. */
type Body = Record<string, unknown> & { error: { code: string; message: string } };

async function http(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as Body };
}

describe("--registration closed", () => {
  let server: Running;
  beforeAll(async () => {
    server = await startTestServer({ registration: "closed" });
  });
  afterAll(() => server?.stop());

  it("POST /auth/register answers 403 registration_closed with the contract's error body", async () => {
    const response = await http(server.urls.http, "POST", "/auth/register", {
      json: { username: "hero", password: "secret123" },
    });
    expect(response.status).toBe(403);
    expect(response.body).toEqual({ error: { code: "registration_closed", message: expect.any(String) } });
  });

  it("tessera users add still creates users, who log in over HTTP and the socket", async () => {
    const added = await cli(["users", "add", "admin-made", "--password-stdin"], {
      env: { TESSERA_DATA_DIR: server.dataDir, TESSERA_REGISTRATION: "closed", TESSERA_LOG_LEVEL: "silent" },
      stdin: "secret123",
    });
    expect(added.code).toBe(0);
    const login = await http(server.urls.http, "POST", "/auth/login", {
      json: { username: "admin-made", password: "secret123" },
    });
    expect(login.status).toBe(200);
    const socket = await openWebSocket(server.urls.ws);
    socket.send({ type: "auth", provider: "password", username: "admin-made", password: "secret123" });
    expect(await socket.next()).toMatchObject({ type: "tokens", tokenType: "session" });
    expect(await socket.next()).toMatchObject({ type: "ready" });
    socket.close();
  });

  it("a bad --registration value is refused at start with the setting's name", async () => {
    const bad = await cli(["serve"], {
      env: { TESSERA_REGISTRATION: "ajar", TESSERA_DATA_DIR: server.dataDir },
    });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/registration.*TESSERA_REGISTRATION/);
  });
});

describe("--idle-timeout on every surface", () => {
  const clock = testClock();
  const IDLE_MS = 600_000;
  const LATE_MS = IDLE_MS + 60_000; // plus the touch interval: see engine/idle.ts
  let server: Running;
  let grpc: SessionClient;
  beforeAll(async () => {
    server = await startTestServer({
      idleTimeoutSeconds: IDLE_MS / 1000,
      engine: { passwords: FAST_PASSWORDS, clock },
    });
    grpc = sessionClient(server.grpc?.port ?? 0);
    await cli(["users", "add", "idler", "--password-stdin"], {
      env: { TESSERA_DATA_DIR: server.dataDir, TESSERA_LOG_LEVEL: "silent" },
      stdin: "secret123",
    });
  });
  afterAll(async () => {
    grpc?.close();
    await server?.stop();
  });

  it("HTTP: a session kept in use lives on; one left unused answers 401 token_expired", async () => {
    const login = await http(server.urls.http, "POST", "/auth/login", {
      json: { username: "idler", password: "secret123" },
    });
    const jwt = String(login.body.accessToken);
    clock.advance(IDLE_MS);
    expect((await http(server.urls.http, "GET", "/auth/session", { token: jwt })).status).toBe(200);
    clock.advance(LATE_MS);
    const late = await http(server.urls.http, "GET", "/auth/session", { token: jwt });
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe("token_expired");
    const refreshed = await http(server.urls.http, "POST", "/auth/refresh", {
      json: { refreshToken: login.body.refreshToken },
    });
    expect(refreshed.body.error.code).toBe("token_expired");
  });

  it("gRPC: GetSession and ReissueSession of an idle session are UNAUTHENTICATED token_expired", async () => {
    const created = await call(grpc, "CreateSession", {
      username: "idler",
      password: "secret123",
      device_uuid: "w1",
    });
    clock.advance(LATE_MS);
    const get = await failureOf(call(grpc, "GetSession", {}, bearer(String(created.auth_token))));
    expect(get).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_expired" });
    const reissue = await failureOf(call(grpc, "ReissueSession", { reissue_token: created.reissue_token }));
    expect(reissue).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_expired" });
  });

  it("WebSocket: an idle session's token is refused at auth with 4401 token_expired", async () => {
    const created = await call(grpc, "CreateSession", {
      username: "idler",
      password: "secret123",
      device_uuid: "w2",
    });
    clock.advance(LATE_MS);
    const socket = await openWebSocket(server.urls.ws);
    socket.send({ type: "auth", token: created.auth_token });
    expect(await closeOf(socket)).toEqual({ code: 4401, reason: "token_expired" });
  });
});

describe("--absolute-lifetime on every surface", () => {
  const clock = testClock();
  const CAP_MS = 3600_000;
  let server: Running;
  let grpc: SessionClient;
  beforeAll(async () => {
    // The idle rule at its default (7 days) never bites within the hour under test.
    server = await startTestServer({
      absoluteLifetimeSeconds: CAP_MS / 1000,
      engine: { passwords: FAST_PASSWORDS, clock },
    });
    grpc = sessionClient(server.grpc?.port ?? 0);
    await cli(["users", "add", "capped", "--password-stdin"], {
      env: { TESSERA_DATA_DIR: server.dataDir, TESSERA_LOG_LEVEL: "silent" },
      stdin: "secret123",
    });
  });
  afterAll(async () => {
    grpc?.close();
    await server?.stop();
  });

  it("the flag and the environment variable set it; a bad value is refused with the setting's name", async () => {
    expect(loadConfig({ flags: { absoluteLifetimeSeconds: "7200" }, env: {} }).absoluteLifetimeSeconds).toBe(
      7200,
    );
    expect(loadConfig({ env: { TESSERA_ABSOLUTE_LIFETIME: "86400" } }).absoluteLifetimeSeconds).toBe(86_400);
    expect(loadConfig({ env: {} }).absoluteLifetimeSeconds).toBe(30 * 24 * 3600);
    expect(() => loadConfig({ env: { TESSERA_ABSOLUTE_LIFETIME: "0" } })).toThrow(
      /absoluteLifetimeSeconds.*TESSERA_ABSOLUTE_LIFETIME/,
    );
    const bad = await cli(["serve", "--absolute-lifetime", "soon"], {
      env: { TESSERA_DATA_DIR: server.dataDir },
    });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/absoluteLifetimeSeconds.*--absolute-lifetime/);
  });

  it("HTTP: refresh moves nothing past the cap; at the cap the JWT and the refresh token answer 401 token_expired", async () => {
    const loginAt = clock();
    const login = await http(server.urls.http, "POST", "/auth/login", {
      json: { username: "capped", password: "secret123" },
    });
    const cap = new Date(loginAt + CAP_MS).toISOString();
    expect(login.body.refreshExpiration).toBe(cap);
    const session = await http(server.urls.http, "GET", "/auth/session", {
      token: String(login.body.accessToken),
    });
    expect(session.body.session).toMatchObject({ expiresAt: cap, maxExpiresAt: cap });
    clock.advance(CAP_MS - 60_000);
    const refreshed = await http(server.urls.http, "POST", "/auth/refresh", {
      json: { refreshToken: login.body.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshExpiration).toBe(cap);
    clock.advance(60_000);
    const late = await http(server.urls.http, "GET", "/auth/session", {
      token: String(refreshed.body.accessToken),
    });
    expect(late.status).toBe(401);
    expect(late.body).toEqual({ error: { code: "token_expired", message: expect.any(String) } });
    const again = await http(server.urls.http, "POST", "/auth/refresh", {
      json: { refreshToken: refreshed.body.refreshToken },
    });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe("token_expired");
  });

  it("gRPC: exp is the cap, ReissueSession cannot pass it, and at the cap both calls are UNAUTHENTICATED token_expired", async () => {
    const loginAt = clock();
    const created = await call(grpc, "CreateSession", {
      username: "capped",
      password: "secret123",
      device_uuid: "g1",
    });
    expect(Number(created.exp)).toBe(Math.floor((loginAt + CAP_MS) / 1000));
    clock.advance(CAP_MS / 2);
    const reissued = await call(grpc, "ReissueSession", { reissue_token: created.reissue_token });
    expect(Number(reissued.exp)).toBe(Math.floor((loginAt + CAP_MS) / 1000));
    clock.advance(CAP_MS / 2);
    const get = await failureOf(call(grpc, "GetSession", {}, bearer(String(reissued.auth_token))));
    expect(get).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_expired" });
    const reissue = await failureOf(call(grpc, "ReissueSession", { reissue_token: reissued.reissue_token }));
    expect(reissue).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_expired" });
  });

  it("WebSocket: ready names the cap; a socket open at the cap is closed with 4401 token_expired; its token is refused after", async () => {
    const loginAt = clock();
    const socket = await openWebSocket(server.urls.ws);
    socket.send({ type: "auth", provider: "password", username: "capped", password: "secret123" });
    const tokens = await socket.next();
    expect(tokens).toMatchObject({
      type: "tokens",
      refreshExpiration: new Date(loginAt + CAP_MS).toISOString(),
    });
    expect(await socket.next()).toMatchObject({
      type: "ready",
      expiresAt: new Date(loginAt + CAP_MS).toISOString(),
    });
    clock.advance(CAP_MS);
    socket.send({ type: "ping" });
    expect(await closeOf(socket)).toEqual({ code: 4401, reason: "token_expired" });
    const again = await openWebSocket(server.urls.ws);
    again.send({ type: "auth", token: tokens.accessToken });
    expect(await closeOf(again)).toEqual({ code: 4401, reason: "token_expired" });
  });
});

describe("POST /auth/password and POST /auth/reauthenticate over every surface", () => {
  let server: Running;
  let grpc: SessionClient;
  beforeAll(async () => {
    server = await startTestServer();
    grpc = sessionClient(server.grpc?.port ?? 0);
  });
  afterAll(async () => {
    grpc?.close();
    await server?.stop();
  });

  it("a password change ends the user's other sessions — a WebSocket, a gRPC session — and keeps the current one", async () => {
    const base = server.urls.http;
    await http(base, "POST", "/auth/register", { json: { username: "changer", password: "secret123" } });
    const login = await http(base, "POST", "/auth/login", {
      json: { username: "changer", password: "secret123" },
    });
    const current = String(login.body.accessToken);
    const socket = await openWebSocket(server.urls.ws);
    socket.send({ type: "auth", provider: "password", username: "changer", password: "secret123" });
    await socket.next(); // tokens
    expect(await socket.next()).toMatchObject({ type: "ready" });
    const created = await call(grpc, "CreateSession", {
      username: "changer",
      password: "secret123",
      device_uuid: "cli-1",
    });
    const changed = await http(base, "POST", "/auth/password", {
      token: current,
      json: { currentPassword: "secret123", newPassword: "brand-new-secret" },
    });
    expect(changed.status).toBe(204);
    expect(await closeOf(socket)).toEqual({ code: 4401, reason: "token_revoked" });
    const get = await failureOf(call(grpc, "GetSession", {}, bearer(String(created.auth_token))));
    expect(get).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    expect((await http(base, "GET", "/auth/session", { token: current })).status).toBe(200);
    // The old password is gone on gRPC and the socket too.
    const old = await failureOf(
      call(grpc, "CreateSession", { username: "changer", password: "secret123", device_uuid: "cli-2" }),
    );
    expect(old).toMatchObject({ status: status.UNAUTHENTICATED, code: "invalid_credentials" });
    const again = await openWebSocket(server.urls.ws);
    again.send({ type: "auth", provider: "password", username: "changer", password: "secret123" });
    expect(await closeOf(again)).toEqual({ code: 4401, reason: "invalid_credentials" });
  });

  it("re-authentication answers the same session with a new authenticatedAt; a wrong password is 401 invalid_credentials", async () => {
    const base = server.urls.http;
    await http(base, "POST", "/auth/register", { json: { username: "prover", password: "secret123" } });
    const login = await http(base, "POST", "/auth/login", {
      json: { username: "prover", password: "secret123" },
    });
    const token = String(login.body.accessToken);
    const wrong = await http(base, "POST", "/auth/reauthenticate", {
      token,
      json: { password: "nope-nope" },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: "invalid_credentials", message: expect.any(String) } });
    const right = await http(base, "POST", "/auth/reauthenticate", {
      token,
      json: { password: "secret123" },
    });
    expect(right.status).toBe(200);
    expect(right.body.session).toMatchObject({ id: login.body.sessionId, authMethods: ["pwd"] });
  });
});
