/**
 * Liveness and readiness over a real port on real SQLite files: `/livez` says the process is
 * up; `/healthz` says the store can serve reads *and* writes, so a database that can no
 * longer be written (read-only) takes the node out of rotation instead of answering 200
 * while every login fails.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Tessera } from "../src/engine/tessera.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { FAST_PASSWORDS } from "./kit.js";
import { serveStore, tempDir } from "./server-kit.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(store: SqliteStore): Promise<string> {
  const served = await serveStore(store);
  cleanups.push(served.close);
  return served.base;
}

/** A migrated database with its signing key, as a first server start leaves it. */
async function preparedDatabase(): Promise<string> {
  const dir = tempDir();
  cleanups.push(dir.remove);
  const path = join(dir.path, "tessera.db");
  const store = SqliteStore.open({ path });
  const tessera = await Tessera.create({ store, passwords: FAST_PASSWORDS });
  tessera.close();
  await store.close();
  return path;
}

describe("health", () => {
  it("a writable store is live and ready: /livez and /healthz answer 200 {status: ok}", async () => {
    const base = await serve(SqliteStore.open({ path: await preparedDatabase() }));
    for (const path of ["/livez", "/healthz"]) {
      const response = await fetch(base + path);
      expect(response.status, path).toBe(200);
      expect(await response.json(), path).toEqual({ status: "ok" });
    }
  });

  it("a read-only database is live but not ready: /healthz is 503 with the contract's error body", async () => {
    const base = await serve(SqliteStore.open({ path: await preparedDatabase(), readOnly: true }));
    // Reads still work; every write fails (as with SQLITE_READONLY / SQLITE_IOERR_WRITE).
    const register = await fetch(`${base}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "hero", password: "secret123" }),
    });
    expect(register.status).toBe(503);
    for (let i = 0; i < 3; i++) {
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({
        status: "unavailable",
        error: { code: "unavailable", message: expect.any(String) },
      });
    }
    const live = await fetch(`${base}/livez`);
    expect(live.status).toBe(200);
  });
});
