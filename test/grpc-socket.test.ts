/**
 * One session across gRPC and the socket gateways, through `tessera serve`'s composition
 * root: a gRPC session token authenticates a WebSocket and a TCP connection, and the
 * session's end on gRPC (device takeover, DestroySession) closes its sockets (contract:
 * "Socket protocol", "gRPC").
 */
import { once } from "node:events";
import { connect } from "node:net";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { bearer, call, failureOf, type SessionClient, sessionClient } from "./grpc-kit.js";
import { startTestServer } from "./server-kit.js";

type Running = Awaited<ReturnType<typeof startTestServer>>;

let server: Running;
let client: SessionClient;
const sockets: { close(): void }[] = [];

beforeAll(async () => {
  server = await startTestServer();
  if (server.grpc === null) throw new Error("tessera serve started without gRPC");
  client = sessionClient(server.grpc.port);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  client?.close();
  await server?.stop();
});

async function createSession(device: string): Promise<{ token: string; reissue: string; username: string }> {
  const username = `sock-${Math.random().toString(36).slice(2, 10)}`;
  await server.tessera.register({ username, password: "secret123" });
  const created = await call(client, "CreateSession", {
    username,
    password: "secret123",
    device_uuid: device,
  });
  return { token: String(created.auth_token), reissue: String(created.reissue_token), username };
}

/** A WebSocket authenticated by header, its first frame, and how it closes. */
async function openWebSocket(token: string) {
  const socket = new WebSocket(server.urls.ws, { headers: { authorization: `Bearer ${token}` } });
  sockets.push(socket);
  const closed = once(socket, "close").then(([code, reason]) => ({ code, reason: String(reason) }));
  const [first] = await once(socket, "message");
  return { frame: JSON.parse(String(first)) as Record<string, unknown>, closed };
}

describe("gRPC sessions on the socket gateways", () => {
  it("a CreateSession token authenticates a WebSocket; DestroySession closes it with 4401 token_revoked", async () => {
    const { token } = await createSession("ws-device");
    const { session } = await server.tessera.validate(token);
    const { frame, closed } = await openWebSocket(token);
    expect(frame).toMatchObject({ type: "ready", sessionId: session.id });

    await call(client, "DestroySession", {}, bearer(token));
    expect(await closed).toEqual({ code: 4401, reason: "token_revoked" });
  });

  it("a second CreateSession for the same device closes the first session's WebSocket", async () => {
    const first = await createSession("phone");
    const { closed } = await openWebSocket(first.token);
    await call(client, "CreateSession", {
      username: first.username,
      password: "secret123",
      device_uuid: "phone",
    });
    expect(await closed).toEqual({ code: 4401, reason: "token_revoked" });
  });

  it("a gRPC session authenticates over TCP and refreshes there with its reissue token", async () => {
    const { token, reissue } = await createSession("tcp-device");
    const socket = connect(Number(new URL(server.urls.tcp).port), "127.0.0.1");
    sockets.push({ close: () => socket.destroy() });
    await once(socket, "connect");
    const lines: Record<string, unknown>[] = [];
    let buffered = "";
    const waiters: (() => void)[] = [];
    socket.on("data", (chunk) => {
      buffered += String(chunk);
      let at = buffered.indexOf("\n");
      while (at >= 0) {
        lines.push(JSON.parse(buffered.slice(0, at)) as Record<string, unknown>);
        buffered = buffered.slice(at + 1);
        at = buffered.indexOf("\n");
      }
      for (const wake of waiters.splice(0)) wake();
    });
    const nth = async (n: number) => {
      while (lines.length <= n) await new Promise<void>((resolve) => waiters.push(resolve));
      return lines[n];
    };

    socket.write(`${JSON.stringify({ type: "auth", token })}\n`);
    expect(await nth(0)).toMatchObject({ type: "ready" });
    socket.write(`${JSON.stringify({ type: "refresh", refreshToken: reissue })}\n`);
    const tokens = await nth(1);
    expect(tokens).toMatchObject({ type: "tokens", tokenType: "session" });

    // The pair the socket received works on gRPC, and the spent reissue token is spent there too.
    expect(await call(client, "GetSession", { token: tokens?.accessToken })).toMatchObject({
      device_uuid: "tcp-device",
    });
    const again = await call(client, "ReissueSession", { reissue_token: reissue });
    expect(again.auth_token).toBe(tokens?.accessToken); // the grace window's same successor
    const next = await call(client, "ReissueSession", { reissue_token: tokens?.refreshToken });
    expect(next.auth_token).not.toBe(tokens?.accessToken);
    const old = await failureOf(call(client, "GetSession", { token: tokens?.accessToken }));
    expect(old.status).toBe(status.UNAUTHENTICATED);
  });
});
