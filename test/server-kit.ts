/**
 * Server test fixtures: a configuration on a fresh temporary data directory with free
 * ports, quiet logs and cheap argon2 parameters, and `startTestServer` to run it in-process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ServerConfig } from "../src/server/config.js";
import { type RunningServer, startServer } from "../src/server/start.js";
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
