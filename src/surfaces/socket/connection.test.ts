/**
 * The contract's socket protocol table, row by row, over both transports with real
 * clients on real ports: the same steps must give the same frames on WebSocket and TCP,
 * differing only in how a connection ends (close code vs. error frame, then end).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loggedIn } from "../../../test/kit.js";
import {
  closeOf,
  expectedClose,
  type Gateways,
  readyClient,
  startGateways,
  type Transport,
} from "../../../test/socket-kit.js";
import type { Session } from "../../engine/types.js";
import { TesseraError } from "../../errors.js";
import { generateOpaqueToken } from "../../tokens/opaque.js";
import { Connection } from "./connection.js";

const DAY_MS = 24 * 3600 * 1000;

describe.each<Transport>(["websocket", "tcp"])("socket protocol over %s", (transport) => {
  let gw: Gateways;

  beforeEach(async () => {
    gw = await startGateways({ socket: { authTimeoutMs: 2000 } });
    gw.gates.register("echo", ({ data, session, user, connectionId }) => ({
      data,
      sessionId: session.id,
      userId: user.id,
      connectionId,
    }));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    return gw.close();
  });

  it("an auth frame with a session token answers ready with the session, user and expiry", async () => {
    const pair = await gw.session();
    const { ready } = await readyClient(gw, transport, pair);
    const session = await gw.tessera.getSession(pair.sessionId);
    expect(ready).toEqual({
      type: "ready",
      sessionId: pair.sessionId,
      userId: pair.user.id,
      expiresAt: session?.expiresAt,
    });
  });

  it("an auth frame with a refresh token spends it and sends tokens before ready", async () => {
    const pair = await gw.session();
    const client = await gw.connect(transport);
    client.send({ type: "auth", refreshToken: pair.refreshToken });
    const tokens = await client.next();
    expect(tokens).toMatchObject({ type: "tokens", sessionId: pair.sessionId, tokenType: "session" });
    expect(tokens.refreshToken).not.toBe(pair.refreshToken);
    expect(await client.next()).toMatchObject({ type: "ready", sessionId: pair.sessionId });
    // The pushed session token is a working credential.
    const validated = await gw.tessera.validate(String(tokens.accessToken));
    expect(validated.session.id).toBe(pair.sessionId);
  });

  it("an access JWT is refused with token_invalid (upgrade first)", async () => {
    const { pair } = await loggedIn(gw.tessera);
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: pair.accessToken });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_invalid"));
  });

  it("an unknown session token closes with token_invalid", async () => {
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: "tss_not-a-real-token" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_invalid"));
  });

  it("an empty token is a bad token, not a bad frame: it closes with token_invalid", async () => {
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: "" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_invalid"));
  });

  it("a numeric message id comes back as the same number, on a reply and on an error", async () => {
    const { client } = await readyClient(gw, transport);
    client.send({ type: "message", gate: "echo", id: 7, data: 1 });
    expect(await client.next()).toMatchObject({ type: "reply", id: 7 });
    client.send({ type: "message", gate: "no-such-gate", id: 8, data: 1 });
    expect(await client.next()).toMatchObject({ type: "error", code: "not_found", id: 8 });
  });

  it("an expired session's token closes with token_expired", async () => {
    const pair = await gw.session();
    gw.clock.advance(15 * DAY_MS);
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: pair.accessToken });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
  });

  it("a logged-out session's token closes with token_revoked", async () => {
    const pair = await gw.session();
    await gw.tessera.validate(pair.accessToken);
    await gw.tessera.logout(pair.sessionId);
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: pair.accessToken });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_revoked"));
  });

  it("a spent refresh token presented after the grace window closes with refresh_token_reused", async () => {
    const pair = await gw.session();
    await gw.tessera.refresh(pair.refreshToken);
    gw.clock.advance(60_000);
    const client = await gw.connect(transport);
    client.send({ type: "auth", refreshToken: pair.refreshToken });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "refresh_token_reused"));
  });

  it("ping answers pong, before and after authentication", async () => {
    const client = await gw.connect(transport);
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
    const { client: authed } = await readyClient(gw, transport);
    authed.send({ type: "ping" });
    expect(await authed.next()).toEqual({ type: "pong" });
  });

  it("a message reaches its gate with the session, user and data, and the return value comes back as reply", async () => {
    const { client, pair } = await readyClient(gw, transport);
    client.send({ type: "message", gate: "echo", id: "m1", data: { x: [1, 2] } });
    const reply = await client.next();
    expect(reply).toMatchObject({
      type: "reply",
      id: "m1",
      data: { data: { x: [1, 2] }, sessionId: pair.sessionId, userId: pair.user.id },
    });
    expect(typeof (reply.data as { connectionId: unknown }).connectionId).toBe("string");
  });

  it("auth and a message sent back to back are answered in order", async () => {
    const pair = await gw.session();
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: pair.accessToken });
    client.send({ type: "message", gate: "echo", id: "early" });
    expect((await client.next()).type).toBe("ready");
    expect(await client.next()).toMatchObject({ type: "reply", id: "early", data: { data: null } });
  });

  it("an unknown gate answers an error frame with not_found and keeps the socket", async () => {
    const { client } = await readyClient(gw, transport);
    client.send({ type: "message", gate: "nope", id: "m2", data: 1 });
    expect(await client.next()).toEqual({
      type: "error",
      code: "not_found",
      message: "No such gate.",
      id: "m2",
    });
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
  });

  it("a gate that throws answers internal_error without its stack, logs it, and keeps the socket", async () => {
    gw.gates.register("boom", () => {
      throw new Error("secret detail at /srv/app.js:12");
    });
    const { client } = await readyClient(gw, transport);
    client.send({ type: "message", gate: "boom", id: "b1" });
    const error = await client.next();
    expect(error).toEqual({
      type: "error",
      code: "internal_error",
      message: "An internal error occurred.",
      id: "b1",
    });
    expect(JSON.stringify(error)).not.toContain("secret detail");
    expect(JSON.stringify(gw.logged)).toContain("secret detail");
    client.send({ type: "message", gate: "echo", id: "after" });
    expect(await client.next()).toMatchObject({ type: "reply", id: "after" });
  });

  it("a gate that throws a TesseraError answers its code and message", async () => {
    gw.gates.register("deny", async () => {
      throw new TesseraError("forbidden", "Not your turn.");
    });
    const { client } = await readyClient(gw, transport);
    client.send({ type: "message", gate: "deny", id: "d1" });
    expect(await client.next()).toEqual({
      type: "error",
      code: "forbidden",
      message: "Not your turn.",
      id: "d1",
    });
    expect(gw.logged).toEqual([]);
  });

  it("a gate whose reply is not JSON answers internal_error", async () => {
    gw.gates.register("bigint", () => 10n as unknown as number);
    const { client } = await readyClient(gw, transport);
    client.send({ type: "message", gate: "bigint", id: "n1" });
    expect(await client.next()).toMatchObject({ type: "error", code: "internal_error", id: "n1" });
  });

  it("an in-band refresh with another user's refresh token is token_invalid and does not spend it", async () => {
    const { client, pair } = await readyClient(gw, transport);
    const other = await gw.session();
    client.send({ type: "refresh", refreshToken: other.refreshToken });
    expect(await client.next()).toMatchObject({ type: "error", code: "token_invalid" });
    expect(client.received.filter((frame) => frame.type === "tokens")).toEqual([]);
    // The victim's token is still theirs to use; the socket's own token still works in band.
    expect((await gw.tessera.refresh(other.refreshToken)).sessionId).toBe(other.sessionId);
    client.send({ type: "refresh", refreshToken: pair.refreshToken });
    expect(await client.next()).toMatchObject({ type: "tokens", sessionId: pair.sessionId });
  });

  it("a message before authentication answers forbidden and keeps the socket", async () => {
    const client = await gw.connect(transport);
    client.send({ type: "message", gate: "echo", id: "m0" });
    expect(await client.next()).toMatchObject({ type: "error", code: "forbidden", id: "m0" });
    client.send({ type: "refresh", refreshToken: "tsr_x" });
    expect(await client.next()).toMatchObject({ type: "error", code: "forbidden" });
    const pair = await gw.session();
    client.send({ type: "auth", token: pair.accessToken });
    expect(await client.next()).toMatchObject({ type: "ready" });
  });

  it("a second auth frame on an authenticated socket answers invalid_request and keeps it", async () => {
    const { client, pair } = await readyClient(gw, transport);
    client.send({ type: "auth", token: pair.accessToken });
    expect(await client.next()).toMatchObject({ type: "error", code: "invalid_request" });
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
  });

  it("refresh answers a tokens frame with a new pair of the same session", async () => {
    const { client, pair } = await readyClient(gw, transport);
    client.send({ type: "refresh", refreshToken: pair.refreshToken });
    const tokens = await client.next();
    expect(tokens).toMatchObject({ type: "tokens", sessionId: pair.sessionId, user: pair.user });
    expect(tokens.refreshToken).not.toBe(pair.refreshToken);
    // The socket stays authenticated although its session token rotated.
    client.send({ type: "message", gate: "echo", id: "r1" });
    expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
  });

  it("refresh with an unknown token answers an error frame and keeps the socket", async () => {
    const { client } = await readyClient(gw, transport);
    client.send({ type: "refresh", refreshToken: "tsr_garbage" });
    expect(await client.next()).toMatchObject({ type: "error", code: "token_invalid" });
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
  });

  it("a malformed frame ends the connection with invalid_request", async () => {
    const { client } = await readyClient(gw, transport);
    client.sendRaw(transport === "websocket" ? "{not json" : "{not json\n");
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4400, "invalid_request"));
  });

  it("a frame of unknown type ends the connection with invalid_request, before authentication too", async () => {
    const client = await gw.connect(transport);
    client.send({ type: "subscribe", topic: "x" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4400, "invalid_request"));
  });

  it("no authentication within the timeout ends the connection with auth_timeout", async () => {
    await gw.close();
    gw = await startGateways({ socket: { authTimeoutMs: 50 } });
    const client = await gw.connect(transport);
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "auth_timeout"));
  });

  it("frames over the rate answer rate_limited, and a client that keeps on is closed", async () => {
    await gw.close();
    gw = await startGateways({ socket: { framesPerSecond: 2, frameBurst: 3 } });
    const client = await gw.connect(transport);
    for (let i = 0; i < 4; i++) client.send({ type: "ping" });
    const frames = [await client.next(), await client.next(), await client.next(), await client.next()];
    expect(frames.slice(0, 3)).toEqual([{ type: "pong" }, { type: "pong" }, { type: "pong" }]);
    expect(frames[3]).toMatchObject({ type: "error", code: "rate_limited" });
    for (let i = 0; i < 5; i++) client.send({ type: "ping" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4429, "rate_limited"));
  });

  it("connections over maxConnections are refused with unavailable", async () => {
    await gw.close();
    gw = await startGateways({ socket: { maxConnections: 1 } });
    const first = await gw.connect(transport);
    const second = await gw.connect(transport);
    expect(await closeOf(second)).toEqual(expectedClose(transport, 1013, "unavailable"));
    first.send({ type: "ping" });
    expect(await first.next()).toEqual({ type: "pong" });
  });

  it("with acceptAccessJwt an access JWT authenticates", async () => {
    await gw.close();
    gw = await startGateways({ socket: { acceptAccessJwt: true } });
    const { pair } = await loggedIn(gw.tessera);
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: pair.accessToken });
    expect(await client.next()).toMatchObject({ type: "ready", sessionId: pair.sessionId });
  });

  it("with maxAuthAttempts 2 a failed auth answers an error frame and the next attempt may succeed", async () => {
    await gw.close();
    gw = await startGateways({ socket: { maxAuthAttempts: 2 } });
    const client = await gw.connect(transport);
    client.send({ type: "auth", token: "tss_wrong" });
    expect(await client.next()).toMatchObject({ type: "error", code: "token_invalid" });
    const pair = await gw.session();
    client.send({ type: "auth", token: pair.accessToken });
    expect(await client.next()).toMatchObject({ type: "ready" });
  });

  it("unknown tokens count against the peer's address: past the limit its sockets are rate_limited", async () => {
    await gw.close();
    gw = await startGateways({
      engine: { tokenThrottle: { maxFailures: 3, baseDelaySeconds: 60 } },
      socket: { maxAuthAttempts: 10 },
    });
    const client = await gw.connect(transport);
    for (let i = 0; i < 3; i++) {
      client.send({ type: "auth", token: generateOpaqueToken("session") });
      expect(await client.next()).toMatchObject({ type: "error", code: "token_invalid" });
    }
    // A new socket from the same address: the throttle knows it.
    const next = await gw.connect(transport);
    next.send({ type: "auth", token: generateOpaqueToken("session") });
    expect(await next.next()).toMatchObject({ type: "error", code: "rate_limited" });
  });

  it("a change to the session's data reaches the gates of connected sockets", async () => {
    gw.gates.register("data", ({ session }) => session.data);
    const { client, pair } = await readyClient(gw, transport);
    // The update reaches sockets as an event, then a reload of the session: wait for the
    // socket to take the new session (the event), not for time to pass.
    const original = Connection.prototype.updateSession;
    const updated = new Promise<void>((resolve) => {
      vi.spyOn(Connection.prototype, "updateSession").mockImplementation(function (
        this: Connection,
        session: Session,
      ) {
        original.call(this, session);
        if (session.id === pair.sessionId) resolve();
      });
    });
    await gw.tessera.setSessionData(pair.sessionId, { level: 7 });
    await updated;
    client.send({ type: "message", gate: "data", id: "d" });
    expect((await client.next()).data).toEqual({ level: 7 });
  });
});
