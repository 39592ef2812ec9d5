import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir, testConfig } from "../../test/server-kit.js";
import { startServer } from "./start.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("startServer", () => {
  it("creates the data directory, schema and keys on first start and prints where it listens", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const dataDir = join(dir.path, "fresh", "data");
    const printed: string[] = [];
    const server = await startServer(testConfig(dataDir), { print: (line) => printed.push(line) });
    cleanups.push(() => server.close());
    expect(existsSync(join(dataDir, "tessera.db"))).toBe(true);
    expect(server.urls.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(printed.join("\n")).toContain(server.urls.http);
    const health = await fetch(`${server.urls.http}/healthz`);
    expect(await health.json()).toEqual({ status: "ok" });
    const jwks = (await (await fetch(`${server.urls.http}/.well-known/jwks.json`)).json()) as {
      keys: unknown[];
    };
    expect(jwks.keys.length).toBe(1);
  });

  it("keeps users, sessions and keys across a restart on the same data directory", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const first = await startServer(testConfig(dir.path), { print: () => undefined });
    const base = first.urls.http;
    const post = (url: string, body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await post(`${base}/auth/register`, { username: "hero", password: "secret123" });
    const pair = (await (
      await post(`${base}/auth/login`, { username: "hero", password: "secret123" })
    ).json()) as {
      accessToken: string;
    };
    const keysBefore = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    await first.close();

    const second = await startServer(testConfig(dir.path), { print: () => undefined });
    cleanups.push(() => second.close());
    expect(await (await fetch(`${second.urls.http}/.well-known/jwks.json`)).json()).toEqual(keysBefore);
    const session = await fetch(`${second.urls.http}/auth/session`, {
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(session.status).toBe(200);
  });

  it("fails with a clear error when the port is taken, leaving nothing open", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const first = await startServer(testConfig(dir.path), { print: () => undefined });
    cleanups.push(() => first.close());
    const port = Number(new URL(first.urls.http).port);
    const other = tempDir();
    cleanups.push(other.remove);
    await expect(startServer(testConfig(other.path, { port }), { print: () => undefined })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });

  it("close() is idempotent and closes the store", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const server = await startServer(testConfig(dir.path), { print: () => undefined });
    await Promise.all([server.close(), server.close()]);
    expect(await server.tessera.healthy()).toBe(false);
  });
});
