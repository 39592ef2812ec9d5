/**
 * What the Redis store's tests share: the machine's Redis, removing a test's keys by prefix
 * with SCAN (never KEYS), private `redis-server` processes stopped by their pid, and a TCP
 * proxy that can black-hole traffic (a half-dead network).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";

export const SHARED_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = (await client.sendCommand([
        "SCAN",
        cursor,
        "MATCH",
        `${prefix}*`,
        "COUNT",
        "1000",
      ])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await client.sendCommand(["UNLINK", ...keys]);
    } while (cursor !== "0");
  } finally {
    client.destroy();
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SIGKILL and start again on the same port (`empty` wipes its directory first). */
  restart(options?: { readonly empty?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server in a temp dir with the given settings, e.g. ["--appendonly", "yes"]. */
export async function startPrivateRedis(settings: readonly string[]): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-redis-store-"));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const launch = async () => {
    const started = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, ...settings],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child = started;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      started.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) resolve();
      });
      started.on("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)));
    });
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null) return;
    const exited = once(running, "exit");
    running.kill("SIGKILL");
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async restart(options = {}) {
      await kill();
      if (options.empty === true) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
      }
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StallingProxy {
  readonly port: number;
  /** Black-holed: connections stay open, nothing is delivered either way. */
  setBlackhole(on: boolean): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<StallingProxy> {
  let blackhole = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket
        .on("error", () => {})
        .on("close", () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(socket);
        });
    }
    client.on("data", (chunk: Buffer) => {
      if (!blackhole) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!blackhole) client.write(chunk);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    setBlackhole(on) {
      blackhole = on;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** Waits for `check` to hold, polling; fails after `ms` with `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
