import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../test/server-kit.js";
import { StoreOpenError } from "../stores/session-store.js";
import { loadConfig } from "./config.js";
import { describeStore, openStore, redactUrl } from "./open-store.js";

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

describe("openStore", () => {
  it("opens the SQLite file of the configuration, and an empty memory store", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const sqlite = await openStore(loadConfig({ env: {}, flags: { dataDir: dir.path } }));
    expect(sqlite.name).toBe(`sqlite:${join(dir.path, "tessera.db")}`);
    await sqlite.createUser({
      uuid: "u-1",
      username: "ada",
      usernameKey: "ada",
      passwordHash: null,
      createdAt: 1,
    });
    await sqlite.close();
    const again = await openStore(loadConfig({ env: {}, flags: { dataDir: dir.path } }));
    expect(await again.findUserByUsernameKey("ada")).not.toBeNull();
    await again.close();

    const memory = await openStore(loadConfig({ env: { TESSERA_STORE: "memory" } }));
    expect(memory.name).toBe("memory");
    expect(await memory.listUsers()).toEqual([]);
    await memory.close();
  });

  it("gives the SQLite store the lock timeout of --sqlite-lock-timeout", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = await openStore(
      loadConfig({ env: {}, flags: { dataDir: dir.path, sqliteLockTimeoutMs: "0" } }),
    );
    // Another connection to the file holds the write lock: with 0 ms, the write gives up at once.
    const other = new Database(join(dir.path, "tessera.db"));
    other.exec("BEGIN IMMEDIATE");
    try {
      const user = { uuid: "u-1", username: "ada", usernameKey: "ada", passwordHash: null, createdAt: 1 };
      await expect(store.createUser(user)).rejects.toThrow(/locked by another connection for 0 ms/);
    } finally {
      other.exec("ROLLBACK");
      other.close();
      await store.close();
    }
  });

  it("describes a store without its password", () => {
    expect(redactUrl("redis://app:hunter2@cache:6379/0")).toBe("redis://app:***@cache:6379/0");
    expect(redactUrl("postgres://tessera@db:5432/tessera")).toBe("postgres://tessera@db:5432/tessera");
    const config = loadConfig({
      env: { TESSERA_STORE: "postgres", TESSERA_DATABASE_URL: "postgres://app:s3cret@db/tessera" },
    });
    expect(describeStore(config)).toBe("PostgreSQL postgres://app:***@db/tessera");
  });
});

describe("openStore on PostgreSQL", () => {
  // CREATE and DROP DATABASE copy and remove a whole database: on a machine busy with the rest of
  // the suite they took longer than the default 20 s bound once, so this test has a wider one.
  it("opens the database of --database-url (creating its tables) and keeps what it writes", {
    timeout: 90_000,
  }, async () => {
    const pg = await import("pg");
    const database = `tessera_open_${process.pid}_${Date.now()}`;
    const admin = new pg.default.Client({
      host: "127.0.0.1",
      port: 5432,
      user: "postgres",
      database: "test",
    });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    try {
      const config = loadConfig({
        env: {
          TESSERA_STORE: "postgres",
          TESSERA_DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
        },
      });
      const store = await openStore(config);
      await store.createUser({
        uuid: "u-1",
        username: "ada",
        usernameKey: "ada",
        passwordHash: null,
        createdAt: 1,
      });
      await store.close();
      const again = await openStore(config);
      expect(await again.findUserByUsernameKey("ada")).not.toBeNull();
      await again.close();
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });

  it("refuses an unreachable database with a StoreOpenError that does not show the password", async () => {
    const config = loadConfig({
      env: { TESSERA_STORE: "postgres", TESSERA_DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/tessera" },
    });
    const error = await openStore(config).then(
      () => null,
      (reason: unknown) => reason as Error,
    );
    expect(error).toBeInstanceOf(StoreOpenError);
    expect(error?.message).toMatch(/127\.0\.0\.1:1/);
    expect(error?.message).not.toMatch(/hunter2/);
  });
});
