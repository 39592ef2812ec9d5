/**
 * What only the WebSocket gateway does: the Bearer header on the upgrade request, the
 * close codes `ws` itself produces (1009 oversized), binary frames, the upgrade path, the
 * ping/pong heartbeat, and shutdown.
 */
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { loggedIn } from "../../../test/kit.js";
import {
  closeOf,
  type Gateways,
  openWebSocket,
  readyClient,
  startGateways,
} from "../../../test/socket-kit.js";

describe("WebSocket gateway", () => {
  let gw: Gateways;
  afterEach(() => gw.close());

  it("authenticates from the upgrade request's Bearer session token without an auth frame", async () => {
    gw = await startGateways();
    const pair = await gw.session();
    const client = await gw.connect("websocket", { authorization: `Bearer ${pair.accessToken}` });
    expect(await client.next()).toMatchObject({ type: "ready", sessionId: pair.sessionId });
  });

  it("takes the session cookie from a page of this server, and not from another site's page", async () => {
    gw = await startGateways({ socket: { authTimeoutMs: 300 } });
    const pair = await gw.session();
    const cookie = `tessera_session=${pair.accessToken}`;
    const same = await gw.connect("websocket", { cookie, origin: `http://${new URL(gw.wsUrl).host}` });
    expect(await same.next()).toMatchObject({ type: "ready", sessionId: pair.sessionId });
    // Cross-site WebSocket hijacking: the browser sends the cookie, the gateway ignores it.
    const cross = await gw.connect("websocket", { cookie, origin: "https://evil.example" });
    expect(await closeOf(cross)).toEqual({ code: 4401, reason: "auth_timeout" });
  });

  it("closes 4401 token_invalid for a Bearer header with a bad token", async () => {
    gw = await startGateways();
    const client = await gw.connect("websocket", { authorization: "Bearer tss_nonsense" });
    expect(await closeOf(client)).toEqual({ code: 4401, reason: "token_invalid" });
  });

  it("closes 4401 token_invalid for a Bearer access JWT", async () => {
    gw = await startGateways();
    const { pair } = await loggedIn(gw.tessera);
    const client = await gw.connect("websocket", { authorization: `Bearer ${pair.accessToken}` });
    expect(await closeOf(client)).toEqual({ code: 4401, reason: "token_invalid" });
  });

  it("closes 1009 for a frame over maxFrameBytes", async () => {
    gw = await startGateways({ socket: { maxFrameBytes: 1024 } });
    const client = await gw.connect("websocket");
    client.send({ type: "ping", pad: "x".repeat(2000) });
    expect((await client.closed).code).toBe(1009);
  });

  it("accepts a frame just under maxFrameBytes", async () => {
    gw = await startGateways({ socket: { maxFrameBytes: 1024 } });
    const client = await gw.connect("websocket");
    client.send({ type: "ping", pad: "x".repeat(900) });
    expect(await client.next()).toEqual({ type: "pong" });
  });

  it("closes 4400 for a binary frame", async () => {
    gw = await startGateways();
    const client = await openWebSocket(gw.wsUrl);
    client.socket.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect(await closeOf(client)).toEqual({ code: 4400, reason: "invalid_request" });
  });

  it("leaves upgrades on other paths to other listeners", async () => {
    gw = await startGateways();
    const other = new WebSocketServer({ noServer: true });
    gw.server.on("upgrade", (request, socket, head) => {
      if (request.url === "/other") other.handleUpgrade(request, socket, head, (ws) => ws.send("other"));
    });
    const client = new WebSocket(gw.wsUrl.replace("/ws", "/other"));
    const [message] = await once(client, "message");
    expect(String(message)).toBe("other");
    client.terminate();
    other.close();
  });

  it("accepts the path with a query string", async () => {
    gw = await startGateways();
    const client = await openWebSocket(`${gw.wsUrl}?v=1`);
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
    client.close();
  });

  it("terminates a peer that does not answer pings", async () => {
    // Pings every 30 ms; a peer is dropped after 500 ms without a pong, which an answering
    // client never comes near even on a busy machine.
    gw = await startGateways({
      socket: { heartbeatIntervalMs: 30, peerTimeoutMs: 500, authTimeoutMs: 60_000 },
    });
    const silent = await openWebSocket(gw.wsUrl, {}, { autoPong: false });
    const answering = await openWebSocket(gw.wsUrl);
    expect((await silent.closed).code).toBe(1006);
    answering.send({ type: "ping" });
    expect(await answering.next()).toEqual({ type: "pong" });
    silent.close();
    answering.close();
  });

  it("close() ends every socket with 1001 and counts no connections after", async () => {
    gw = await startGateways();
    const { client } = await readyClient(gw, "websocket");
    expect(gw.ws.connections()).toBe(1);
    await gw.ws.close();
    expect((await client.closed).code).toBe(1001);
    expect(gw.ws.connections()).toBe(0);
  });
});
