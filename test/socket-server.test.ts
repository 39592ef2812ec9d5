/**
 * The gateways as `tessera serve` runs them (the composition root, `startServer`): a
 * session made over HTTP or gRPC authenticates a WebSocket on the HTTP port and a TCP
 * socket on its own port, and gRPC's DestroySession closes them within 100 ms.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenPair } from "../src/engine/types.js";
import { bearer, call, sessionClient } from "./grpc-kit.js";
import { startTestServer } from "./server-kit.js";
import { openTcp, openWebSocket, type TestClient } from "./socket-kit.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as Record<string, unknown>;
}

describe("socket gateways in the server", () => {
  let server: Server;
  let counter = 0;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  async function httpSession(): Promise<TokenPair> {
    const username = `sock-${++counter}`;
    await post(`${server.urls.http}/auth/register`, { username, password: "secret123" });
    const jwt = await post(`${server.urls.http}/auth/login`, { username, password: "secret123" });
    return (await post(
      `${server.urls.http}/auth/upgrade`,
      undefined,
      String(jwt.accessToken),
    )) as unknown as TokenPair;
  }

  async function authenticate(client: TestClient, token: string) {
    client.send({ type: "auth", token });
    return client.next();
  }

  it("serves the WebSocket gateway on the HTTP port at /ws and TCP on its own port", async () => {
    expect(server.urls.ws).toBe(`${server.urls.http.replace("http", "ws")}/ws`);
    const pair = await httpSession();
    const ws = await openWebSocket(server.urls.ws);
    expect(await authenticate(ws, pair.accessToken)).toMatchObject({
      type: "ready",
      sessionId: pair.sessionId,
    });
    const tcp = await openTcp(Number(new URL(server.urls.tcp).port));
    expect(await authenticate(tcp, pair.accessToken)).toMatchObject({
      type: "ready",
      sessionId: pair.sessionId,
    });
    ws.close();
    tcp.close();
  });

  it("a gRPC session authenticates a socket, and gRPC DestroySession closes it", async () => {
    if (server.grpc === null) return expect.fail("gRPC is off in the test configuration");
    const client = sessionClient(server.grpc.port);
    try {
      const user = `grpc-sock-${++counter}`;
      await post(`${server.urls.http}/auth/register`, { username: user, password: "secret123" });
      const created = await call(client, "CreateSession", {
        username: user,
        password: "secret123",
        device_uuid: "3f1b7a52-6a4e-4a8e-9b7d-0f2a1c9e8d11",
      });
      const token = String(created.auth_token);
      const ws = await openWebSocket(server.urls.ws);
      expect(await authenticate(ws, token)).toMatchObject({ type: "ready" });
      await call(client, "DestroySession", {}, bearer(token));
      const closed = await ws.closed;
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason: "token_revoked" });
      // Only the revocation can close it (the heartbeat is 30 s); how soon is measured in the bench.
    } finally {
      client.close();
    }
  });
});

describe("--socket-accept-jwt", () => {
  it("lets sockets authenticate with an access JWT when it is on, and only then", async () => {
    const open = await startTestServer({ socketAcceptJwt: true });
    const strict = await startTestServer();
    try {
      const login = async (server: Server) => {
        await post(`${server.urls.http}/auth/register`, { username: "jwt-socket", password: "secret123" });
        return post(`${server.urls.http}/auth/login`, { username: "jwt-socket", password: "secret123" });
      };
      const accepted = await login(open);
      const ws = await openWebSocket(open.urls.ws);
      ws.send({ type: "auth", token: String(accepted.accessToken) });
      expect(await ws.next()).toMatchObject({ type: "ready", sessionId: accepted.sessionId });
      const tcp = await openTcp(Number(new URL(open.urls.tcp).port));
      tcp.send({ type: "auth", token: String(accepted.accessToken) });
      expect(await tcp.next()).toMatchObject({ type: "ready", sessionId: accepted.sessionId });
      ws.close();
      tcp.close();

      const refused = await login(strict);
      const other = await openWebSocket(strict.urls.ws);
      other.send({ type: "auth", token: String(refused.accessToken) });
      const closed = await other.closed;
      expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason: "token_invalid" });
    } finally {
      await open.stop();
      await strict.stop();
    }
  });
});
