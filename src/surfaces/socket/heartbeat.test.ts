/**
 * The heartbeat's session duties (seed 003), over both transports with a short interval
 * and the engine's fake clock: a session near its end gets fresh tokens pushed unasked,
 * an expired one is closed, and one already renewed elsewhere is left alone.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { codeOf } from "../../../test/kit.js";
import {
  closeOf,
  expectedClose,
  type Gateways,
  keepAlive,
  nextOfType,
  readyClient,
  startGateways,
  type Transport,
} from "../../../test/socket-kit.js";

import { Connection } from "./connection.js";

const DAY_MS = 24 * 3600 * 1000;

describe.each<Transport>(["websocket", "tcp"])("heartbeat over %s", (transport) => {
  let gw: Gateways;
  beforeEach(async () => {
    // Session duties at every 25 ms heartbeat; dropping silent peers is not under test here,
    // and must not depend on how busy the machine is.
    // The idle rule is off: these sessions sit unused while the clock jumps days ahead.
    gw = await startGateways({
      engine: { idleTimeoutSeconds: 0 },
      socket: { heartbeatIntervalMs: 25, peerTimeoutMs: 60_000 },
    });
    gw.gates.register("echo", ({ data }) => data);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    return gw.close();
  });

  it("pushes a tokens frame unasked when the session nears expiry, extending it by its lifetime", async () => {
    const { client, pair } = await readyClient(gw, transport);
    keepAlive(client);
    gw.clock.advance(13 * DAY_MS); // inside the last 10% of 14 days
    const tokens = await nextOfType(client, "tokens");
    expect(tokens).toMatchObject({ sessionId: pair.sessionId, tokenType: "session", user: pair.user });
    expect(Date.parse(String(tokens.refreshExpiration))).toBe(gw.clock() + 14 * DAY_MS);
    // The pushed tokens work, the superseded refresh token does not, and the socket stays.
    expect((await gw.tessera.validate(String(tokens.accessToken))).session.id).toBe(pair.sessionId);
    expect(await codeOf(gw.tessera.refresh(pair.refreshToken))).toBe("token_revoked");
    client.send({ type: "message", gate: "echo", id: "after", data: 1 });
    expect(await nextOfType(client, "reply")).toEqual({ type: "reply", id: "after", data: 1 });
  });

  it("closes with token_expired when the session has expired", async () => {
    const { client } = await readyClient(gw, transport);
    keepAlive(client);
    gw.clock.advance(15 * DAY_MS);
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
  });

  it("a message on a session that expired between heartbeats closes with token_expired", async () => {
    await gw.close();
    gw = await startGateways({ engine: { idleTimeoutSeconds: 0 }, socket: { heartbeatIntervalMs: 60_000 } });
    gw.gates.register("echo", ({ data }) => data);
    const { client } = await readyClient(gw, transport);
    gw.clock.advance(15 * DAY_MS);
    client.send({ type: "message", gate: "echo", id: "late" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
  });

  it("does not reissue a session the client already refreshed elsewhere", async () => {
    const { client, pair } = await readyClient(gw, transport);
    keepAlive(client);
    // Heartbeats are held back until the refresh is done, then counted as they run: the
    // test waits for that event, not for time to pass (and fails if none ever runs).
    const original = Connection.prototype.heartbeat;
    let armed = false;
    let beats = 0;
    let threeBeats: () => void = () => {};
    const ranThrice = new Promise<void>((resolve) => {
      threeBeats = resolve;
    });
    vi.spyOn(Connection.prototype, "heartbeat").mockImplementation(function (this: Connection) {
      if (!armed) return;
      original.call(this);
      if (++beats === 3) threeBeats();
    });
    gw.clock.advance(13 * DAY_MS);
    const refreshed = await gw.tessera.refresh(pair.refreshToken);
    armed = true;
    await ranThrice;
    // Frames arrive in order: a tokens frame pushed by those heartbeats would come before this pong.
    client.send({ type: "ping" });
    await nextOfType(client, "pong");
    expect(client.received.filter((frame) => frame.type === "tokens")).toEqual([]);
    expect((await gw.tessera.refresh(refreshed.refreshToken)).sessionId).toBe(pair.sessionId);
  });
});
