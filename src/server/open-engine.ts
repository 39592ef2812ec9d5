/**
 * Opens the store (`openStore`) and the engine a configuration describes, for the server
 * and for the management CLI alike, so that both always agree on the store, the signing
 * algorithm and the key source.
 */
import { readFileSync } from "node:fs";
import type { JwtOptions, TesseraOptions } from "../engine/options.js";
import { Tessera } from "../engine/tessera.js";
import type { SessionStore } from "../stores/session-store.js";
import { ConfigError, type ServerConfig } from "./config.js";
import { openStore } from "./open-store.js";

export interface OpenedEngine {
  readonly tessera: Tessera;
  readonly store: SessionStore;
  /** Stops the engine's timers, then closes the store. */
  close(): Promise<void>;
}

/**
 * The engine's key settings. `manageStoredKeys: false` (the CLI) uses stored keys as they
 * are: a management command never creates or replaces a running server's signing key.
 */
export function jwtOptions(config: ServerConfig, manageStoredKeys = true): JwtOptions {
  if (config.jwtSecret !== null) {
    return { algorithm: config.jwtAlgorithm ?? "HS256", secret: config.jwtSecret };
  }
  if (config.jwtPrivateKeyFile !== null) {
    let privateKeyPem: string;
    try {
      privateKeyPem = readFileSync(config.jwtPrivateKeyFile, "utf8");
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`Cannot read jwtPrivateKeyFile ${config.jwtPrivateKeyFile}: ${reason}`);
    }
    return { algorithm: config.jwtAlgorithm ?? "EdDSA", privateKeyPem };
  }
  if (!manageStoredKeys) return { manageStoredKeys: false };
  return config.jwtAlgorithm === null ? {} : { algorithm: config.jwtAlgorithm };
}

export interface OpenEngineOptions {
  /** False for the management CLI: see `jwtOptions`. @default true */
  readonly manageStoredKeys?: boolean;
}

export async function openEngine(
  config: ServerConfig,
  extra: Partial<Omit<TesseraOptions, "store">> = {},
  open: OpenEngineOptions = {},
): Promise<OpenedEngine> {
  const jwt = jwtOptions(config, open.manageStoredKeys ?? true);
  const store = await openStore(config);
  try {
    const tessera = await Tessera.create({
      issuer: config.issuer,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      sessionTtlSeconds: config.sessionTtlSeconds,
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      absoluteLifetimeSeconds: config.absoluteLifetimeSeconds,
      registration: config.registration,
      securityEvents: { retentionDays: config.eventsRetentionDays },
      maxSessionDataBytes: config.maxSessionDataBytes,
      jwt,
      ...extra,
      ...config.engine,
      store,
    });
    return {
      tessera,
      store,
      async close() {
        // The last events of a command or a shutdown are written before the store closes.
        await tessera.securityEventsSettled();
        tessera.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
