/**
 * Session policy through `tessera serve`'s own composition root, over real ports with
 * real clients (fetch, ws, @grpc/grpc-js, the CLI): the settings of the contract's
 * "Deployment" table and what they do on every surface. The only fake is the engine's
 * clock.
 */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
