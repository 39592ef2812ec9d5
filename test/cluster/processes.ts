/**
 * Real processes for the multi-node tests: `tessera serve` nodes (the compiled CLI in
 * dist/, as an operator runs it), a private `redis-server`, and a TCP proxy that stands for
 * the network between a node and its store. Every process is stopped by the pid it was
 * started with; nothing else on the machine is touched.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository root: the nearest directory above with a package.json (this file also runs compiled, from dist/). */
function repositoryRoot(): URL {
  let dir = new URL("./", import.meta.url);
  while (!existsSync(new URL("package.json", dir)) && dir.pathname !== "/") dir = new URL("../", dir);
  return dir;
}

const CLI = new URL("bin/tessera.js", repositoryRoot()).pathname;

/** Resolves with the first match of `pattern` in what the process printed; rejects if it exits first. */
function waitForLine(child: ChildProcess, pattern: RegExp, output: string[]): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = output.join("").match(pattern);
      if (match === null) return;
      child.stdout?.off("data", check);
      child.off("exit", onExit);
      resolve(match);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`process exited (${code}) before printing ${pattern}:\n${output.join("")}`));
    child.stdout?.on("data", check);
    child.once("exit", onExit);
    check();
  });
}

function collect(child: ChildProcess): string[] {
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  return output;
}

/** Children still running, killed if this test process exits first (a failed hook, a timeout). */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Sends `signal`; a process still there after a graceful shutdown's grace period is killed. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  const grace = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(grace);
}

export interface TesseraNode {
  readonly http: string;
  readonly ws: string;
  readonly pid: number;
  /** Everything the process printed, for failure messages and log checks. */
  readonly output: string[];
  /** Whether the process ended on its own (a crash). */
  exited(): boolean;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown at all, as a crash. Resolves once the process is gone. */
  kill(): Promise<void>;
}

/** Starts `tessera serve` with `args` on free ports; resolves once it listens. */
export async function startNode(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<TesseraNode> {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-node-"));
  const child = track(
    spawn(
      process.execPath,
      [CLI, "serve", "--port", "0", "--tcp-port", "0", "--grpc", "off", "--data-dir", dataDir, ...args],
      { env: { ...process.env, ...env, NODE_ENV: "test" }, stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  const output = collect(child);
  let crashed = false;
  child.once("exit", (_code, signal) => {
    if (signal !== "SIGTERM") crashed = true;
  });
  const sockets = await waitForLine(child, /Socket gateways on (ws:\/\/\S+) and/, output);
  const listening = await waitForLine(child, /Tessera listening on (http:\/\/\S+)/, output);
  return {
    http: listening[1] as string,
    ws: sockets[1] as string,
    pid: child.pid as number,
    output,
    exited: () => crashed,
    async stop() {
      await stopChild(child, "SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
    async kill() {
      await stopChild(child, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: no shutdown save, as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (`empty` wipes the directory first). */
  restart(options?: { empty?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server with append-only persistence (fsync on every write) in a temp dir. */
export async function startRedis(): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-redis-"));
  const port = await freePort();
  let child: ChildProcess;
  const launch = async () => {
    child = track(
      spawn(
        "redis-server",
        [
          ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
          ...["--appendonly", "yes", "--appendfsync", "always", "--save", ""],
          ...["--maxmemory-policy", "noeviction"],
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      ),
    );
    const output = collect(child);
    await waitForLine(child, /Ready to accept connections/, output);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => stopChild(child, "SIGKILL"),
    async restart(options = {}) {
      await stopChild(child, "SIGKILL");
      if (options.empty === true) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
      }
      await launch();
    },
    async stop() {
      await stopChild(child, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

export type ProxyMode = "pass" | "drop" | "blackhole";

/**
 * A TCP proxy in front of a store: `pass` forwards, `drop` closes every connection and
 * refuses new ones (a restarted peer), `blackhole` keeps connections open but delivers
 * nothing either way (a half-dead network: the case a lease must detect).
 */
export interface TcpProxy {
  readonly port: number;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

function destroyPair(pair: { client: Socket; upstream: Socket }): void {
  pair.client.destroy();
  pair.upstream.destroy();
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  let mode: ProxyMode = "pass";
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const server: Server = createServer((client) => {
    if (mode === "drop") {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk: Buffer) => {
        if (mode === "pass") to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    setMode(next) {
      mode = next;
      if (next === "drop") for (const pair of pairs) destroyPair(pair);
    },
    async close() {
      for (const pair of pairs) destroyPair(pair);
      server.close();
      await once(server, "close");
    },
  };
}
