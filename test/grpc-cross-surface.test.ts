/**
 * One session across surfaces, through `tessera serve`'s own composition root: HTTP and
 * gRPC in one process on one engine (contract: "A session created over any of the three
 * surfaces is the same session on all of them").
 */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, call, failureOf, type SessionClient, sessionClient } from "./grpc-kit.js";
import { startTestServer } from "./server-kit.js";

type Running = Awaited<ReturnType<typeof startTestServer>>;

let server: Running;
let client: SessionClient;

beforeAll(async () => {
  server = await startTestServer();
  const grpc = server.grpc;
  if (grpc === null) throw new Error("tessera serve started without gRPC");
  client = sessionClient(grpc.port);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

async function http(method: string, path: string, options: { token?: string; json?: unknown } = {}) {
  const response = await fetch(`${server.urls.http}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: (text === "" ? null : JSON.parse(text)) as Record<string, unknown>,
  };
}

async function newUser(): Promise<string> {
  const username = `cross-${Math.random().toString(36).slice(2, 10)}`;
  const registered = await http("POST", "/auth/register", { json: { username, password: "secret123" } });
  expect(registered.status).toBe(201);
  return username;
}

describe("gRPC and HTTP share sessions", () => {
  it("serve reports the gRPC target beside the HTTP URL", () => {
    expect(server.urls.grpc).toBe(`127.0.0.1:${server.grpc?.port}`);
  });

  it("a session token from CreateSession works on HTTP GET /auth/session and POST /auth/logout", async () => {
    const username = await newUser();
    const created = await call(client, "CreateSession", {
      username,
      password: "secret123",
      device_uuid: "svc-1",
    });
    const token = String(created.auth_token);

    const validated = await server.tessera.validate(token);
    expect(validated).toMatchObject({ credential: "session", user: { username } });

    const session = await http("GET", "/auth/session", { token });
    expect(session).toMatchObject({
      status: 200,
      body: { session: { id: validated.session.id, deviceId: "svc-1", tokenType: "session" } },
    });

    expect((await http("POST", "/auth/logout", { token })).status).toBe(204);
    const refused = await failureOf(call(client, "GetSession", { token }));
    expect(refused).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
  });

  it("a reissue token from gRPC refreshes over HTTP, and the successor works on gRPC", async () => {
    const username = await newUser();
    const created = await call(client, "CreateSession", {
      username,
      password: "secret123",
      device_uuid: "svc-2",
    });
    const refreshed = await http("POST", "/auth/refresh", { json: { refreshToken: created.reissue_token } });
    expect(refreshed).toMatchObject({ status: 200, body: { tokenType: "session" } });
    const described = await call(client, "GetSession", { token: refreshed.body.accessToken });
    expect(described).toMatchObject({ username, device_uuid: "svc-2", credential: "session" });
  });

  it("an HTTP login's JWT and its upgraded session token work in GetSession and DestroySession", async () => {
    const username = await newUser();
    const login = await http("POST", "/auth/login", { json: { username, password: "secret123" } });
    expect(login.status).toBe(200);
    const jwt = String(login.body.accessToken);
    expect(await call(client, "GetSession", { token: jwt })).toMatchObject({ credential: "jwt", username });

    const upgraded = await http("POST", "/auth/upgrade", { token: jwt });
    expect(upgraded.status).toBe(200);
    const sessionToken = String(upgraded.body.accessToken);
    const described = await call(client, "GetSession", {}, bearer(sessionToken));
    expect(described).toMatchObject({
      session_id: login.body.sessionId,
      credential: "session",
      token_type: "session",
    });

    expect(await call(client, "DestroySession", {}, bearer(sessionToken))).toEqual({});
    const after = await http("GET", "/auth/session", { token: sessionToken });
    expect(after).toMatchObject({ status: 401, body: { error: { code: "token_revoked" } } });
  });

  it("HTTP logout-all ends the sessions gRPC created", async () => {
    const username = await newUser();
    const a = await call(client, "CreateSession", { username, password: "secret123", device_uuid: "a" });
    const b = await call(client, "CreateSession", { username, password: "secret123", device_uuid: "b" });
    expect((await http("POST", "/auth/logout-all", { token: String(a.auth_token) })).status).toBe(204);
    for (const created of [a, b]) {
      const failure = await failureOf(call(client, "GetSession", { token: created.auth_token }));
      expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    }
  });
});

describe("serve without gRPC", () => {
  it("starts no gRPC server when grpc is off", async () => {
    const plain = await startTestServer({ grpc: false });
    try {
      expect(plain.grpc).toBeNull();
      expect(plain.urls.grpc).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});
