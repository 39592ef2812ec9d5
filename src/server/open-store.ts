/**
 * Opens the store a configuration names. Each store's module, and so its driver, is loaded
 * only when that store is chosen: a server on SQLite never loads a Redis or PostgreSQL
 * client, and one on Redis never loads the SQLite native module.
 */
import type { SessionStore } from "../stores/session-store.js";
import { ConfigError, type ServerConfig } from "./config.js";

/** Only the settings that pick and reach a store. */
export type StoreConfig = Pick<
  ServerConfig,
  | "store"
  | "databasePath"
  | "redisUrl"
  | "databaseUrl"
  | "revocationLeaseMs"
  | "allowUnsafeRedis"
  | "sqliteLockTimeoutMs"
>;

export async function openStore(config: StoreConfig): Promise<SessionStore> {
  switch (config.store) {
    case "sqlite": {
      const { SqliteStore } = await import("../stores/sqlite/sqlite-store.js");
      return SqliteStore.open({
        path: config.databasePath,
        ...(config.sqliteLockTimeoutMs === null ? {} : { lockTimeoutMs: config.sqliteLockTimeoutMs }),
      });
    }
    case "memory": {
      const { MemoryStore } = await import("../stores/memory/memory-store.js");
      return new MemoryStore();
    }
    case "postgres": {
      const { PostgresStore } = await import("../stores/postgres/index.js");
      return PostgresStore.open({
        url: required(config.databaseUrl, "databaseUrl"),
        revocationLeaseMs: config.revocationLeaseMs,
        onWarning: (message) => process.emitWarning(`tessera: ${message}`),
      });
    }
    case "redis": {
      const { RedisStore } = await import("../stores/redis/index.js");
      return RedisStore.open({
        url: required(config.redisUrl, "redisUrl"),
        revocationLeaseMs: config.revocationLeaseMs,
        allowUnsafeRedis: config.allowUnsafeRedis,
      });
    }
  }
}

function required(value: string | null, setting: string): string {
  if (value === null) throw new ConfigError(`${setting} is not set.`);
  return value;
}

/** How the store is named in start-up lines and logs: never a password. */
export function describeStore(config: StoreConfig): string {
  switch (config.store) {
    case "sqlite":
      return `SQLite ${config.databasePath}`;
    case "memory":
      return "memory (everything is lost when the process ends)";
    case "redis":
      return `Redis ${redactUrl(config.redisUrl)}`;
    case "postgres":
      return `PostgreSQL ${redactUrl(config.databaseUrl)}`;
  }
}

/** The URL without its password (`redis://user:***@host`). */
export function redactUrl(raw: string | null): string {
  if (raw === null) return "(no URL)";
  try {
    const url = new URL(raw);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    return "(unreadable URL)";
  }
}
