/**
 * What only the TCP gateway does: line framing (split and joined chunks, CRLF, blank
 * lines), the 64 KiB line limit, the error frame before the end, and dropping a silent peer.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeOf, type Gateways, openTcp, startGateways } from "../../../test/socket-kit.js";

describe("TCP gateway", () => {
  let gw: Gateways;
  afterEach(() => gw.close());

  it("reads a frame split across chunks and several frames in one chunk", async () => {
    gw = await startGateways();
    const client = await openTcp(gw.tcp.port);
    client.sendRaw('{"type":');
    await new Promise((resolve) => setTimeout(resolve, 10));
    client.sendRaw('"ping"}\n{"type":"ping"}\r\n\n{"type":"ping"}\n');
    expect([await client.next(), await client.next(), await client.next()]).toEqual([
      { type: "pong" },
      { type: "pong" },
      { type: "pong" },
    ]);
    client.close();
  });

  it("a line over 64 KiB gets a payload_too_large error frame, then the end", async () => {
    gw = await startGateways();
    const client = await openTcp(gw.tcp.port);
    client.sendRaw(`{"type":"ping","pad":"${"x".repeat(70 * 1024)}"}\n`);
    expect(await client.next()).toMatchObject({ type: "error", code: "payload_too_large" });
    expect(await closeOf(client)).toEqual({ code: null, reason: "payload_too_large" });
  });

  it("an unterminated line growing past the limit is cut off without waiting for its newline", async () => {
    gw = await startGateways({ socket: { maxFrameBytes: 1024 } });
    const client = await openTcp(gw.tcp.port);
    client.sendRaw("x".repeat(600));
    client.sendRaw("x".repeat(600));
    expect(await closeOf(client)).toEqual({ code: null, reason: "payload_too_large" });
  });

  it("a line at the limit is read", async () => {
    gw = await startGateways({ socket: { maxFrameBytes: 1024 } });
    const client = await openTcp(gw.tcp.port);
    const frame = JSON.stringify({ type: "ping", pad: "" });
    client.sendRaw(`${JSON.stringify({ type: "ping", pad: "x".repeat(1024 - frame.length) })}\n`);
    expect(await client.next()).toEqual({ type: "pong" });
    client.close();
  });

  it("the error frame of a fatal error carries its code and message before the end", async () => {
    gw = await startGateways();
    const client = await openTcp(gw.tcp.port);
    client.send({ type: "auth", token: "tss_bad" });
    expect(await client.next()).toEqual({
      type: "error",
      code: "token_invalid",
      message: expect.any(String),
    });
    await client.closed;
  });

  it("drops a peer silent for the peer timeout and keeps one that pings", async () => {
    // A ping every 10 ms against a 500 ms timeout: a busy machine does not drop the pinging one.
    gw = await startGateways({
      socket: { heartbeatIntervalMs: 30, peerTimeoutMs: 500, authTimeoutMs: 60_000 },
    });
    const silent = await openTcp(gw.tcp.port);
    const pinging = await openTcp(gw.tcp.port);
    let pingingClosed = false;
    void pinging.closed.then(() => {
      pingingClosed = true;
    });
    const timer = setInterval(() => pinging.send({ type: "ping" }), 10);
    await silent.closed;
    clearInterval(timer);
    expect(pingingClosed).toBe(false);
    expect(pinging.received).toContainEqual({ type: "pong" });
  });

  it("close() ends every connection and stops listening", async () => {
    gw = await startGateways();
    const client = await openTcp(gw.tcp.port);
    expect(gw.tcp.connections()).toBe(1);
    await gw.tcp.close();
    await client.closed;
    await expect(openTcp(gw.tcp.port)).rejects.toThrow();
  });
});
