/**
 * A connected socket under the absolute lifetime, over both transports with real ports, a
 * 25 ms heartbeat and the engine's fake clock: the heartbeat's push extends the session up
 * to its cap, then the socket is told (`expiring`: no further `tokens` frame) and closed with
 * `token_expired` when the cap is reached — however busy the socket is.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

const DAY_MS = 24 * 3600 * 1000;

describe.each<Transport>(["websocket", "tcp"])("absolute lifetime over %s", (transport) => {
  let gw: Gateways;
  let loginAt: number;
  beforeEach(async () => {
    // 14-day sessions (renewed in their last 1.4 days) under a 20-day cap; idle rule off.
    gw = await startGateways({
      engine: { idleTimeoutSeconds: 0, absoluteLifetimeSeconds: 20 * 24 * 3600 },
      socket: { heartbeatIntervalMs: 25, peerTimeoutMs: 60_000 },
    });
    gw.gates.register("echo", ({ data }) => data);
    loginAt = gw.clock();
  });
  afterEach(() => gw.close());

  it("the push extends up to the cap, then an expiring frame, then a token_expired close at the cap", async () => {
    const { client, pair } = await readyClient(gw, transport);
    keepAlive(client);
    gw.clock.advance(13 * DAY_MS);
    const tokens = await nextOfType(client, "tokens");
    const cap = new Date(loginAt + 20 * DAY_MS).toISOString();
    expect(tokens).toMatchObject({ sessionId: pair.sessionId, refreshExpiration: cap });
    gw.clock.advance(6 * DAY_MS); // one day before the cap: inside the renewal window
    expect(await nextOfType(client, "expiring")).toEqual({ type: "expiring", expiresAt: cap });
    // The socket still works until then.
    client.send({ type: "message", gate: "echo", id: "still", data: 1 });
    expect(await nextOfType(client, "reply")).toEqual({ type: "reply", id: "still", data: 1 });
    gw.clock.advance(DAY_MS);
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
    // One tokens frame and one expiring frame, nothing else of the kind.
    expect(client.received.filter((frame) => frame.type === "tokens")).toHaveLength(1);
    expect(client.received.filter((frame) => frame.type === "expiring")).toHaveLength(1);
  });

  it("a session whose cap is its expiry from the start is told at once and never gets tokens", async () => {
    await gw.close();
    gw = await startGateways({
      engine: { idleTimeoutSeconds: 0, absoluteLifetimeSeconds: 3600 },
      socket: { heartbeatIntervalMs: 25, peerTimeoutMs: 60_000 },
    });
    loginAt = gw.clock();
    const { client } = await readyClient(gw, transport);
    keepAlive(client);
    const expiring = await nextOfType(client, "expiring");
    expect(expiring).toEqual({ type: "expiring", expiresAt: new Date(loginAt + 3600_000).toISOString() });
    gw.clock.advance(3600_000);
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
    expect(client.received.filter((frame) => frame.type === "tokens")).toEqual([]);
  });

  it("a message after the cap closes the socket with token_expired even between heartbeats", async () => {
    await gw.close();
    gw = await startGateways({
      engine: { idleTimeoutSeconds: 0, absoluteLifetimeSeconds: 3600 },
      socket: { heartbeatIntervalMs: 60_000 },
    });
    gw.gates.register("echo", ({ data }) => data);
    const { client } = await readyClient(gw, transport);
    gw.clock.advance(3600_000);
    client.send({ type: "message", gate: "echo", id: "late" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
    expect(client.received.some((frame) => frame.type === "reply")).toBe(false);
  });

  it("an in-band refresh at the cap rotates the tokens without moving the expiry", async () => {
    const { client } = await readyClient(gw, transport);
    keepAlive(client);
    gw.clock.advance(13 * DAY_MS);
    const pushed = await nextOfType(client, "tokens");
    gw.clock.advance(6 * DAY_MS);
    await nextOfType(client, "expiring");
    client.send({ type: "refresh", refreshToken: pushed.refreshToken });
    const tokens = await nextOfType(client, "tokens");
    expect(tokens.refreshToken).not.toBe(pushed.refreshToken);
    expect(tokens.refreshExpiration).toBe(new Date(loginAt + 20 * DAY_MS).toISOString());
  });
});
