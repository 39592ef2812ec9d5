import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../test/server-kit.js";
import { ConfigError, environmentHelp, loadConfig, SETTINGS } from "./config.js";

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected loadConfig to throw");
}

describe("loadConfig", () => {
  it("defaults to port 3000 on 127.0.0.1 with ./data/tessera.db, TCP 3001 and gRPC 50051", () => {
    const config = loadConfig({ env: {}, cwd: "/srv/app" });
    expect(config).toMatchObject({
      port: 3000,
      host: "127.0.0.1",
      dataDir: "/srv/app/data",
      databasePath: "/srv/app/data/tessera.db",
      tcpPort: 3001,
      grpcPort: 50051,
      jwtAlgorithm: null,
      cookieSecure: "auto",
      metrics: true,
      socketAcceptJwt: false,
    });
  });

  it("reads PORT and TESSERA_* variables, TESSERA_PORT winning over PORT", () => {
    const config = loadConfig({
      env: {
        PORT: "8080",
        TESSERA_DATA_DIR: "/var/lib/t",
        TESSERA_LINK_ORIGINS: "https://a.example, https://b.example",
      },
      cwd: "/",
    });
    expect(config.port).toBe(8080);
    expect(config.databasePath).toBe("/var/lib/t/tessera.db");
    expect(config.linkOrigins).toEqual(["https://a.example", "https://b.example"]);
    expect(loadConfig({ env: { PORT: "8080", TESSERA_PORT: "9090" }, cwd: "/" }).port).toBe(9090);
  });

  it("reads --cors-origins from flag, environment or file, and refuses a wildcard", () => {
    expect(loadConfig({ env: {}, cwd: "/" }).corsOrigins).toEqual([]);
    const env = { TESSERA_CORS_ORIGINS: "https://app.example, http://localhost:5173" };
    expect(loadConfig({ env, cwd: "/" }).corsOrigins).toEqual([
      "https://app.example",
      "http://localhost:5173",
    ]);
    expect(loadConfig({ flags: { corsOrigins: "https://x.example" }, env, cwd: "/" }).corsOrigins).toEqual([
      "https://x.example",
    ]);
    expect(() => loadConfig({ env: { TESSERA_CORS_ORIGINS: "*" }, cwd: "/" })).toThrow(/wildcard/);
    expect(() => loadConfig({ env: { TESSERA_CORS_ORIGINS: "https://a.example/path" }, cwd: "/" })).toThrow(
      ConfigError,
    );
  });

  it("lets a flag win over the environment, and the environment over the config file", () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir.path, "tessera.json");
    writeFileSync(file, JSON.stringify({ port: 4000, host: "0.0.0.0", grpcPort: 6000 }));
    const config = loadConfig({
      flags: { config: file, port: "5000" },
      env: { TESSERA_HOST: "::1" },
      cwd: dir.path,
    });
    expect(config).toMatchObject({ port: 5000, host: "::1", grpcPort: 6000 });
  });

  it("names the setting, its source and the expected form when a value is wrong", () => {
    const error = errorOf(() => loadConfig({ env: { PORT: "eighty" }, cwd: "/" }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      'Invalid port (from PORT): expected an integer from 0 to 65535, got "eighty".',
    );
    expect(errorOf(() => loadConfig({ flags: { port: "70000" }, env: {}, cwd: "/" })).message).toMatch(
      /--port/,
    );
    expect(errorOf(() => loadConfig({ env: { TESSERA_JWT_ALGORITHM: "none" }, cwd: "/" })).message).toMatch(
      /expected one of EdDSA/,
    );
  });

  it("refuses an unknown key or a broken config file", () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir.path, "c.json");
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(errorOf(() => loadConfig({ flags: { config: file }, env: {}, cwd: "/" })).message).toMatch(
      /Unknown setting "prot"/,
    );
    writeFileSync(file, "{");
    expect(errorOf(() => loadConfig({ env: { TESSERA_CONFIG: file }, cwd: "/" })).message).toMatch(
      /Cannot read config file/,
    );
  });

  it("requires a 32-byte secret for HS*, and never repeats a secret in a message", () => {
    expect(errorOf(() => loadConfig({ env: { TESSERA_JWT_ALGORITHM: "HS256" }, cwd: "/" })).message).toMatch(
      /needs a secret/,
    );
    const short = errorOf(() =>
      loadConfig({
        env: { TESSERA_JWT_ALGORITHM: "HS256", TESSERA_JWT_SECRET: "hunter2-hunter2" },
        cwd: "/",
      }),
    );
    expect(short.message).toMatch(/at least 32 bytes/);
    expect(short.message).not.toContain("hunter2");
    const ok = loadConfig({
      env: { TESSERA_JWT_ALGORITHM: "HS256", TESSERA_JWT_SECRET: "x".repeat(32) },
      cwd: "/",
    });
    expect(ok.jwtSecret).toHaveLength(32);
  });

  it("documents every setting's environment variable in the help text", () => {
    const help = environmentHelp();
    for (const setting of SETTINGS) for (const name of setting.env) expect(help).toContain(name);
  });
});

describe("store selection", () => {
  it("defaults to SQLite with a one-second revocation lease and reads the store settings from env and flags", () => {
    expect(loadConfig({ env: {}, cwd: "/srv" })).toMatchObject({
      store: "sqlite",
      redisUrl: null,
      databaseUrl: null,
      revocationLeaseMs: 1000,
      allowUnsafeRedis: false,
    });
    const redis = loadConfig({
      env: { TESSERA_STORE: "redis", TESSERA_REDIS_URL: "redis://10.0.0.5:6379/2" },
      flags: { revocationLeaseMs: "250" },
    });
    expect(redis).toMatchObject({
      store: "redis",
      redisUrl: "redis://10.0.0.5:6379/2",
      revocationLeaseMs: 250,
    });
    const postgres = loadConfig({
      env: {},
      flags: { store: "postgres", databaseUrl: "postgresql://tessera@db/tessera" },
    });
    expect(postgres).toMatchObject({ store: "postgres", databaseUrl: "postgresql://tessera@db/tessera" });
  });

  it("names the missing URL of a shared store, and a URL given to another store", () => {
    expect(errorOf(() => loadConfig({ env: { TESSERA_STORE: "redis" } })).message).toMatch(/--redis-url/);
    expect(errorOf(() => loadConfig({ env: { TESSERA_STORE: "postgres" } })).message).toMatch(
      /--database-url/,
    );
    const stray = errorOf(() => loadConfig({ env: { TESSERA_REDIS_URL: "redis://127.0.0.1:6379" } }));
    expect(stray).toBeInstanceOf(ConfigError);
    expect(stray.message).toMatch(/--store redis/);
  });

  it("refuses an unknown store and a URL of the wrong scheme, without echoing a URL (it may hold a password)", () => {
    expect(errorOf(() => loadConfig({ env: { TESSERA_STORE: "mongo" } })).message).toMatch(
      /sqlite, memory, redis, postgres/,
    );
    const wrong = errorOf(() =>
      loadConfig({ env: { TESSERA_STORE: "redis", TESSERA_REDIS_URL: "http://user:hunter2@cache:6379" } }),
    );
    expect(wrong.message).toMatch(/TESSERA_REDIS_URL/);
    expect(wrong.message).not.toMatch(/hunter2/);
    const garbage = errorOf(() =>
      loadConfig({ flags: { store: "postgres", databaseUrl: "not a url s3cret" } }),
    );
    expect(garbage.message).not.toMatch(/s3cret/);
    expect(errorOf(() => loadConfig({ env: { TESSERA_REVOCATION_LEASE: "5" } })).message).toMatch(
      /100 to 60000/,
    );
  });

  it("reads the SQLite lock timeout in milliseconds, refuses a bad value in one line, and refuses it with another store", () => {
    expect(loadConfig({ env: {} }).sqliteLockTimeoutMs).toBeNull();
    expect(loadConfig({ env: { TESSERA_SQLITE_LOCK_TIMEOUT: "250" } }).sqliteLockTimeoutMs).toBe(250);
    expect(loadConfig({ env: {}, flags: { sqliteLockTimeoutMs: "0" } }).sqliteLockTimeoutMs).toBe(0);
    for (const bad of ["-1", "1.5", "5s", "600001"]) {
      const error = errorOf(() => loadConfig({ env: { TESSERA_SQLITE_LOCK_TIMEOUT: bad } }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(
        `Invalid sqliteLockTimeoutMs (from TESSERA_SQLITE_LOCK_TIMEOUT): expected an integer from 0 to 600000, got "${bad}".`,
      );
    }
    const elsewhere = errorOf(() =>
      loadConfig({ env: { TESSERA_STORE: "memory" }, flags: { sqliteLockTimeoutMs: "1000" } }),
    );
    expect(elsewhere).toBeInstanceOf(ConfigError);
    expect(elsewhere.message).toBe(
      "sqliteLockTimeoutMs is set but the store is memory: it applies to --store sqlite only.",
    );
  });

  it("lists the store settings in the help text", () => {
    const help = environmentHelp();
    for (const name of [
      "TESSERA_STORE",
      "TESSERA_REDIS_URL",
      "TESSERA_DATABASE_URL",
      "TESSERA_REVOCATION_LEASE",
      "TESSERA_SQLITE_LOCK_TIMEOUT",
    ]) {
      expect(help).toContain(name);
    }
  });
});
