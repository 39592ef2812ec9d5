/**
 * Fixtures for the SDK's tests: a real `tessera serve` (in-process, free ports) on an
 * injected clock with an `echo` gate, and the server-side count of refresh requests read
 * from its own `/metrics` (every `POST /auth/refresh` that reached it, whatever the answer).
 */
import { rmSync } from "node:fs";
import type { ServerConfig } from "../src/server/config.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import { type TestClock, testClock } from "./kit.js";
import { tempDir, testConfig } from "./server-kit.js";

export interface ClientTestServer extends RunningServer {
  readonly clock: TestClock;
  readonly dataDir: string;
  /** `POST /auth/refresh` requests the server has answered, by any status. */
  refreshRequests(): Promise<number>;
  /** Stops and starts again on the same port and data directory (same sessions); stop the new one. */
  restart(): Promise<ClientTestServer>;
  stop(): Promise<void>;
}

export async function startClientServer(
  overrides: Partial<ServerConfig> = {},
  existing?: { dataDir: string; port: number; clock: TestClock },
): Promise<ClientTestServer> {
  const clock = existing?.clock ?? testClock(Date.now());
  const dir =
    existing === undefined
      ? tempDir()
      : { path: existing.dataDir, remove: () => rmSync(existing.dataDir, { recursive: true, force: true }) };
  const gates = new GateRegistry();
  gates.register("echo", async ({ data }) => data);
  const base = testConfig(dir.path, overrides);
  const config: ServerConfig = {
    ...base,
    ...(existing === undefined ? {} : { port: existing.port }),
    metrics: true,
    engine: { ...base.engine, clock },
  };
  const server = await startServer(config, { print: () => undefined, gates });
  const port = Number(new URL(server.urls.http).port);
  const handle: ClientTestServer = {
    ...server,
    clock,
    dataDir: dir.path,
    async refreshRequests() {
      const text = await (await fetch(`${server.urls.http}/metrics`)).text();
      let total = 0;
      for (const line of text.split("\n")) {
        if (
          line.startsWith("tessera_http_request_duration_seconds_count{") &&
          line.includes('route="/auth/refresh"')
        ) {
          total += Number(line.slice(line.lastIndexOf(" ") + 1));
        }
      }
      return total;
    },
    async restart() {
      await server.close();
      return startClientServer(overrides, { dataDir: dir.path, port, clock });
    },
    async stop() {
      await server.close();
      dir.remove();
    },
  };
  return handle;
}

let counter = 0;

/** A fresh username for each test (servers are shared within a file). */
export function username(): string {
  counter += 1;
  return `user-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}
