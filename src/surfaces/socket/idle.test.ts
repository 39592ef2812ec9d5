/**
 * The idle rule on open sockets, over both transports, with the engine's fake clock and a
 * short heartbeat: client frames are uses; a socket left silent past the idle deadline is
 * closed with 4401 `token_expired` at the next heartbeat (300 ms here: a WebSocket peer
 * that misses one ping is dropped, and a loaded test machine can miss a shorter one); a session kept in use on another surface keeps its
 * silent socket open; a frame arriving after the deadline does not revive the session.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { codeOf } from "../../../test/kit.js";
import {
  closeOf,
  expectedClose,
  type Gateways,
  readyClient,
  startGateways,
  type Transport,
} from "../../../test/socket-kit.js";

const IDLE_MS = 600_000;
const TOUCH_MS = 60_000;

describe.each<Transport>(["websocket", "tcp"])("idle sockets over %s", (transport) => {
  let gw: Gateways;
  beforeEach(async () => {
    gw = await startGateways({
      engine: { idleTimeoutSeconds: IDLE_MS / 1000 },
      socket: { heartbeatIntervalMs: 300 },
    });
    gw.gates.register("echo", ({ data }) => data);
  });
  afterEach(() => gw.close());

  it("frames keep the session in use; silence past the deadline closes with token_expired", async () => {
    const { client, pair } = await readyClient(gw, transport);
    gw.clock.advance(IDLE_MS);
    client.send({ type: "message", gate: "echo", id: "still-here", data: 1 });
    expect(await client.next()).toEqual({ type: "reply", id: "still-here", data: 1 });
    gw.clock.advance(IDLE_MS + TOUCH_MS);
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
    expect(await codeOf(gw.tessera.validate(pair.accessToken))).toBe("token_expired");
  });

  it("a silent socket stays open while the session is used elsewhere", async () => {
    const { client, pair } = await readyClient(gw, transport);
    gw.clock.advance(IDLE_MS);
    await gw.tessera.validate(pair.accessToken); // a use over another surface
    gw.clock.advance(TOUCH_MS + 1000); // past this socket's own deadline, not the session's
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
    client.send({ type: "message", gate: "echo", id: "after", data: 2 });
    expect(await client.next()).toEqual({ type: "reply", id: "after", data: 2 });
  });

  it("a frame after the deadline is not served and does not revive the session", async () => {
    await gw.close();
    // No heartbeat comes in time: the frame itself must find the session idle.
    gw = await startGateways({
      engine: { idleTimeoutSeconds: IDLE_MS / 1000 },
      socket: { heartbeatIntervalMs: 60_000 },
    });
    gw.gates.register("echo", ({ data }) => data);
    const { client, pair } = await readyClient(gw, transport);
    gw.clock.advance(IDLE_MS + TOUCH_MS);
    client.send({ type: "message", gate: "echo", id: "late", data: 3 });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "token_expired"));
    expect(client.received.some((frame) => frame.type === "reply")).toBe(false);
    expect(await codeOf(gw.tessera.validate(pair.accessToken))).toBe("token_expired");
  });
});
