import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type ClientTestServer, startClientServer, username } from "../../test/client-kit.js";
import { createClient, type TesseraClient } from "./index.js";
import type { SocketEvents, TesseraSocket } from "./socket.js";
import type { SignOutReason, TokenPair } from "./types.js";

let server: ClientTestServer;
beforeAll(async () => {
  server = await startClientServer();
});
afterAll(async () => {
  await server.stop();
});

async function signedIn(upgrade: boolean): Promise<TesseraClient> {
  const client = createClient({ baseUrl: server.urls.http, mode: "token" });
  const name = username();
  await client.register({ username: name, password: "secret123" });
  await client.login({ username: name, password: "secret123" }, { upgrade });
  return client;
}

function nextEvent<E extends keyof SocketEvents>(socket: TesseraSocket, name: E): Promise<SocketEvents[E]> {
  return new Promise((resolve) => {
    const stop = socket.on(name, (event) => {
      stop();
      resolve(event);
    });
  });
}

const fastBackoff = { WebSocket, backoffBaseMs: 20, backoffMaxMs: 200 } as const;

describe("the socket client", () => {
  it("authenticates with the session token and calls a gate as a promise", async () => {
    const client = await signedIn(true);
    const socket = client.socket(fastBackoff);
    await socket.opened();
    expect(await socket.call("echo", { hello: "world" })).toEqual({ hello: "world" });
    await expect(socket.call("nope", 1)).rejects.toMatchObject({ code: "not_found" });
    socket.close();
    await expect(socket.call("echo", 1)).rejects.toMatchObject({ code: "unavailable" });
  });

  it("a returning client with only a JWT pair spends its refresh token on the socket and keeps the successor", async () => {
    const client = await signedIn(false);
    const before = (await client.tokens()) as TokenPair;
    const socket = client.socket(fastBackoff);
    await socket.opened();
    const after = (await client.tokens()) as TokenPair;
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.sessionId).toBe(before.sessionId);
    expect(await socket.call("echo", 7)).toBe(7);
    socket.close();
  });

  it("stops and signs out when the session is revoked while connected", async () => {
    const client = await signedIn(true);
    const reasons: SignOutReason[] = [];
    client.on("signedOut", ({ reason }) => reasons.push(reason));
    const socket = client.socket(fastBackoff);
    await socket.opened();
    const closed = nextEvent(socket, "close");
    await server.tessera.logout(((await client.tokens()) as TokenPair).sessionId);
    expect(await closed).toMatchObject({ code: 4401, reason: "token_revoked", retryInMs: null });
    expect(reasons).toEqual(["token_revoked"]);
    expect(await client.tokens()).toBeNull();
  });

  it("closes when the client signs out", async () => {
    const client = await signedIn(true);
    const socket = client.socket(fastBackoff);
    await socket.opened();
    const closed = nextEvent(socket, "close");
    await client.logout();
    expect((await closed).retryInMs).toBeNull();
  });

  it("times out a gate call that gets no reply", async () => {
    const client = await signedIn(true);
    // Never opened: a socket to a port where nothing listens keeps retrying.
    const orphan = client.socket({ ...fastBackoff, url: "ws://127.0.0.1:1/ws", timeoutMs: 50 });
    await expect(orphan.call("echo", 1)).rejects.toMatchObject({ code: "unavailable" });
    orphan.close();
  });
});

describe("the socket client across a server restart", () => {
  it("reconnects with backoff and reads the credential afresh", async () => {
    let current = await startClientServer();
    try {
      const client = createClient({ baseUrl: current.urls.http, mode: "token" });
      const name = username();
      await client.register({ username: name, password: "secret123" });
      await client.login({ username: name, password: "secret123" }, { upgrade: true });
      const socket = client.socket(fastBackoff);
      await socket.opened();
      const closed = nextEvent(socket, "close");
      const ready = nextEvent(socket, "ready");
      current = await current.restart();
      const event = await closed;
      expect(event.retryInMs).not.toBeNull();
      await ready;
      expect(await socket.call("echo", "again")).toBe("again");
      socket.close();
    } finally {
      await current.stop();
    }
  });
});
