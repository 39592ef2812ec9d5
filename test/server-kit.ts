/**
 * Server test fixtures: a configuration on a fresh temporary data directory with free
 * ports, quiet logs and cheap argon2 parameters, `startTestServer` to run it in-process, and
 * `serveStore` for the HTTP app alone over a store a test opened itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tessera } from "../src/engine/tessera.js";
import { loadConfig, type ServerConfig } from "../src/server/config.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import type { SessionStore } from "../src/stores/session-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { FAST_PASSWORDS } from "./kit.js";

export function tempDir(prefix = "tessera-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function testConfig(dataDir: string, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const base = loadConfig({
    flags: { port: 0, tcpPort: 0, grpcPort: 0, dataDir, logLevel: "silent" },
    env: {},
    cwd: dataDir,
  });
  return { ...base, engine: { passwords: FAST_PASSWORDS }, ...overrides };
}

export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
): Promise<RunningServer & { dataDir: string; stop(): Promise<void> }> {
  const dir = tempDir();
  const server = await startServer(testConfig(dir.path, overrides), { print: () => undefined });
  return {
    ...server,
    dataDir: dir.path,
    async stop() {
      await server.close();
      dir.remove();
    },
  };
}

/** The HTTP app over an engine on `store`, on a free port; `close` stops both and closes the store. */
export async function serveStore(
  store: SessionStore,
): Promise<{ base: string; tessera: Tessera; close(): Promise<void> }> {
  const tessera = await Tessera.create({ store, passwords: FAST_PASSWORDS });
  const app = buildHttpApp({ tessera });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    tessera,
    async close() {
      await app.close();
      tessera.close();
      await store.close();
    },
  };
}
