import { EventEmitter, once } from "node:events";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir, testConfig } from "../../test/server-kit.js";
import { installShutdownHandlers } from "./shutdown.js";
import { startServer } from "./start.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("graceful shutdown", () => {
  it("on SIGTERM finishes the in-flight request, refuses new connections, closes the store and exits 0", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const server = await startServer(testConfig(dir.path), { print: () => undefined });
    cleanups.push(() => server.close());
    const base = server.urls.http;
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await post("/auth/register", { username: "hero", password: "secret123" });

    // A login that is still running when the signal arrives.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inHook = new Promise<void>((resolve) => {
      entered = resolve;
    });
    server.tessera.hook("login", async () => {
      entered();
      await gate;
    });
    const slow = post("/auth/login", { username: "hero", password: "secret123" });
    await inHook;

    const signals = new EventEmitter();
    const exits: number[] = [];
    let exited!: () => void;
    const exitedPromise = new Promise<void>((resolve) => {
      exited = resolve;
    });
    const uninstall = installShutdownHandlers(server, {
      emitter: signals,
      exit: (code) => {
        exits.push(code);
        exited();
      },
      log: () => undefined,
    });
    cleanups.push(uninstall);
    signals.emit("SIGTERM");

    // New connections are refused once closing has begun.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(exits).toEqual([]);

    release();
    const response = await slow;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { tokenType: string }).tokenType).toBe("jwt");
    await exitedPromise;
    expect(exits).toEqual([0]);
    expect(await server.tessera.healthy()).toBe(false);
  });

  it("a request that reaches a closing server answers the contract's 503 unavailable", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const server = await startServer(testConfig(dir.path), { print: () => undefined });
    cleanups.push(() => server.close());

    // A request whose headers have begun keeps its connection open while the server closes.
    const { port } = new URL(server.urls.http);
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.write("GET /auth/events HTTP/1.1\r\nHost: x\r\n");
    const closed = server.close();
    // Closing has begun once the listener stops (a turn of the event loop at a time).
    while (server.http.server.listening) await new Promise((resolve) => setImmediate(resolve));
    socket.write("\r\n");
    await once(socket, "close");
    await closed;

    const text = Buffer.concat(chunks).toString("utf8");
    expect(text).toMatch(/^HTTP\/1\.1 503/);
    expect(text.toLowerCase()).toContain("cache-control: no-store");
    const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;
    expect(body).toEqual({
      error: { code: "unavailable", message: "This server is shutting down; try again shortly." },
    });
  });

  it("a second signal exits 1 at once; SIGINT works like SIGTERM", async () => {
    let finish!: () => void;
    const closing = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const signals = new EventEmitter();
    const exits: number[] = [];
    const uninstall = installShutdownHandlers(
      { close: () => closing },
      {
        emitter: signals,
        exit: (code) => exits.push(code),
        log: () => undefined,
      },
    );
    signals.emit("SIGINT");
    signals.emit("SIGINT");
    expect(exits).toEqual([1]);
    finish();
    await closing;
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([1, 0]);
    uninstall();
    expect(signals.listenerCount("SIGTERM")).toBe(0);
  });

  it("exits 1 when closing fails", async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    installShutdownHandlers(
      { close: () => Promise.reject(new Error("disk gone")) },
      {
        emitter: signals,
        exit: (code) => exits.push(code),
        log: () => undefined,
      },
    );
    signals.emit("SIGTERM");
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([1]);
  });
});
