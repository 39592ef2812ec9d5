/**
 * Server settings: one table (`SETTINGS`) names every setting once, with its flag, its
 * environment variables, its default and its parser, and drives the `serve --help` text,
 * the flags, the environment and the optional JSON config file alike, so they cannot drift.
 *
 * Precedence, highest first: command-line flag, environment variable, config file
 * (`--config` / `TESSERA_CONFIG`; JSON with the same camelCase names), default.
 *
 * The default host is 127.0.0.1: a server started on a laptop is reachable from that
 * laptop only. Use `--host 0.0.0.0` (or `::`) in a container or behind a proxy.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TesseraOptions } from "../engine/options.js";
import { SECURITY_EVENT_KINDS } from "../engine/security-log.js";
import type { SecurityEventKind } from "../engine/types.js";
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from "../tokens/keys.js";
import { MIN_WEBHOOK_SECRET_BYTES, webhookKey } from "./webhook-signature.js";

export interface ServerConfig {
  /** HTTP (and WebSocket) port. */
  readonly port: number;
  readonly host: string;
  /** Directory for the SQLite database. */
  readonly dataDir: string;
  /** The SQLite file; `<dataDir>/tessera.db` unless set. */
  readonly databasePath: string;
  /** Which store holds users, sessions and keys. */
  readonly store: StoreKind;
  /** `redis://…` for `store: "redis"`. */
  readonly redisUrl: string | null;
  /** `postgres://…` for `store: "postgres"`. */
  readonly databaseUrl: string | null;
  /**
   * A node answers from its cache only while it has confirmed, within this many
   * milliseconds, that it has seen every revocation (shared stores); otherwise it reads
   * through to the store, and answers `unavailable` when the store cannot answer.
   */
  readonly revocationLeaseMs: number;
  /** Development only: run on a Redis that may evict or forget revocations. */
  readonly allowUnsafeRedis: boolean;
  /**
   * SQLite: how long a write waits for another process's write lock before it answers
   * `unavailable`. Null: the store's default (5000 ms); set only with `store: "sqlite"`.
   */
  readonly sqliteLockTimeoutMs: number | null;
  /** TCP socket gateway port. */
  readonly tcpPort: number;
  /** gRPC port. */
  readonly grpcPort: number;
  /** Serve gRPC at all. */
  readonly grpc: boolean;
  /** PEM certificate chain for gRPC over TLS; with `grpcTlsKeyFile`, or plaintext when both are null. */
  readonly grpcTlsCertFile: string | null;
  /** PEM private key for gRPC over TLS. */
  readonly grpcTlsKeyFile: string | null;
  readonly issuer: string;
  readonly accessTokenTtlSeconds: number;
  readonly sessionTtlSeconds: number;
  /** A session unused this long ends; 0 turns the rule off. */
  readonly idleTimeoutSeconds: number;
  /** No session lives longer than this after its login, however it is refreshed. */
  readonly absoluteLifetimeSeconds: number;
  /** Security events are kept this many days; 0 keeps them for ever. */
  readonly eventsRetentionDays: number;
  /** Where security events are POSTed (signed); null: no webhooks. */
  readonly webhookUrl: string | null;
  /** The webhooks' HMAC secret (raw, or Standard Webhooks' `whsec_<base64>`). */
  readonly webhookSecret: string | null;
  /** Which kinds go to the webhook; null: every kind. */
  readonly webhookEvents: readonly SecurityEventKind[] | null;
  /** Whether `POST /auth/register` accepts new users. */
  readonly registration: "open" | "closed";
  readonly maxSessionDataBytes: number;
  /** Null: the session-data cap plus room for the JSON around it. */
  readonly bodyLimitBytes: number | null;
  /** Null: the stored active key's algorithm (EdDSA for the first key). */
  readonly jwtAlgorithm: SigningAlgorithm | null;
  /** HMAC secret for HS256/384/512; never stored. */
  readonly jwtSecret: string | null;
  /** PKCS#8 PEM file for an asymmetric algorithm; never stored. */
  readonly jwtPrivateKeyFile: string | null;
  /** Trust `X-Forwarded-For`/`-Proto` from a proxy: `true`, or a comma list of addresses/CIDRs. */
  readonly trustProxy: boolean | string;
  readonly cookieSecure: boolean | "auto";
  readonly linkOrigins: readonly string[];
  /** Origins whose pages may call the API with credentials (CORS); never a wildcard. */
  readonly corsOrigins: readonly string[];
  /** The origin users reach the server at; link URLs are built from it. Null: see `HttpAppOptions.publicUrl`. */
  readonly publicUrl: string | null;
  /** HTTP: all request headers within this many milliseconds. */
  readonly httpHeadersTimeoutMs: number;
  /** HTTP: the whole request within this many milliseconds. */
  readonly httpRequestTimeoutMs: number;
  /** HTTP: an idle keep-alive connection closes after this many milliseconds. */
  readonly httpKeepAliveTimeoutMs: number;
  /** JSON file of partner keys for the `signed-payload` provider (see `partners.ts`); null: no provider. */
  readonly partnersFile: string | null;
  readonly logLevel: string;
  readonly metrics: boolean;
  /** Sockets accept access JWTs as well as session tokens (the contract's default is to refuse them). */
  readonly socketAcceptJwt: boolean;
  /** Programmatic only (tests, embedding): engine options applied last. */
  readonly engine?: Partial<Omit<TesseraOptions, "store">>;
}

export const STORE_KINDS = ["sqlite", "memory", "redis", "postgres"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Thrown for a setting that cannot be used; the message names the setting and its source. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type SettingKey = Exclude<keyof ServerConfig, "engine" | "databasePath"> | "databasePath" | "config";

export interface Setting {
  readonly key: SettingKey;
  /** Commander flag spelling, e.g. `--port <port>`. */
  readonly flag: string;
  readonly env: readonly string[];
  readonly help: string;
  /** Shown in help; the parsed default comes from `DEFAULTS`. */
  readonly defaultText: string;
  readonly parse: (raw: unknown) => unknown;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function integer(min: number, max: number) {
  return (raw: unknown): number => {
    const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`expected an integer from ${min} to ${max}`);
    }
    return value;
  };
}

function text(raw: unknown): string {
  if (typeof raw !== "string" || raw === "") throw new Error("expected a non-empty string");
  return raw;
}

function boolean(raw: unknown): boolean {
  if (typeof raw === "boolean") return raw;
  if (typeof raw === "string" && /^(1|true|yes|on)$/i.test(raw)) return true;
  if (typeof raw === "string" && /^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error("expected true or false");
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: unknown): T => {
    if (typeof raw === "string" && (values as readonly string[]).includes(raw)) return raw as T;
    throw new Error(`expected one of ${values.join(", ")}`);
  };
}

function origin(raw: unknown): string {
  const value = text(raw).trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("expected an origin like https://auth.example.com");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("expected an http(s) origin");
  if (url.origin !== value.replace(/\/$/, "")) throw new Error("expected a bare origin (no path)");
  return url.origin;
}

/** A store URL: checked for its scheme; never echoed back in an error (it may hold a password). */
function storeUrl(protocols: readonly string[], example: string) {
  return (raw: unknown): string => {
    const value = text(raw).trim();
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`expected a URL like ${example}`);
    }
    if (!protocols.includes(url.protocol)) throw new Error(`expected a URL like ${example}`);
    return value;
  };
}

/** Settings whose values are never shown in an error message. */
const SECRET_SETTINGS: ReadonlySet<SettingKey> = new Set([
  "jwtSecret",
  "redisUrl",
  "databaseUrl",
  "webhookSecret",
  "webhookUrl",
]);

/** An http(s) URL a webhook can be POSTed to; never echoed (it may carry a token). */
function webhookUrl(raw: unknown): string {
  let url: URL;
  try {
    url = new URL(text(raw).trim());
  } catch {
    throw new Error("expected a URL like https://hooks.example.com/tessera");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("expected an http(s) URL");
  return url.href;
}

function eventKinds(raw: unknown): SecurityEventKind[] {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : null;
  if (list === null) throw new Error("expected a comma-separated list of event kinds");
  const kinds = list
    .map((item) => (typeof item === "string" ? item.trim() : ""))
    .filter((item) => item !== "");
  const unknown = kinds.filter((kind) => !(SECURITY_EVENT_KINDS as readonly string[]).includes(kind));
  if (kinds.length === 0 || unknown.length > 0) {
    throw new Error(`expected kinds among ${SECURITY_EVENT_KINDS.join(", ")}`);
  }
  return kinds as SecurityEventKind[];
}

function origins(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : null;
  if (list === null) throw new Error("expected a comma-separated list of origins");
  return list
    .map((item) => (typeof item === "string" ? item.trim() : ""))
    .filter((item) => item !== "")
    .map((item) => {
      let url: URL;
      try {
        url = new URL(item);
      } catch {
        throw new Error(`"${item}" is not an origin like https://app.example.com`);
      }
      if (url.origin !== item.replace(/\/$/, "")) throw new Error(`"${item}" is not a bare origin (no path)`);
      return url.origin;
    });
}

export const SETTINGS: readonly Setting[] = [
  {
    key: "config",
    flag: "--config <file>",
    env: ["TESSERA_CONFIG"],
    help: "JSON config file (keys as below, camelCase)",
    defaultText: "none",
    parse: text,
  },
  {
    key: "port",
    flag: "-p, --port <port>",
    env: ["PORT", "TESSERA_PORT"],
    help: "HTTP and WebSocket port (0 picks a free one)",
    defaultText: "3000",
    parse: integer(0, 65535),
  },
  {
    key: "host",
    flag: "--host <host>",
    env: ["TESSERA_HOST"],
    help: "address to listen on; 0.0.0.0 for all interfaces",
    defaultText: "127.0.0.1",
    parse: text,
  },
  {
    key: "dataDir",
    flag: "-d, --data-dir <dir>",
    env: ["TESSERA_DATA_DIR"],
    help: "directory for the SQLite database",
    defaultText: "./data",
    parse: text,
  },
  {
    key: "databasePath",
    flag: "--database <file>",
    env: ["TESSERA_DATABASE"],
    help: "SQLite file",
    defaultText: "<data-dir>/tessera.db",
    parse: text,
  },
  {
    key: "store",
    flag: "--store <kind>",
    env: ["TESSERA_STORE"],
    help: "where users, sessions and keys live: sqlite (one host), memory (lost at exit), redis or postgres (several nodes)",
    defaultText: "sqlite",
    parse: oneOf(STORE_KINDS),
  },
  {
    key: "redisUrl",
    flag: "--redis-url <url>",
    env: ["TESSERA_REDIS_URL"],
    help: "redis://[user:password@]host:port[/db] for --store redis",
    defaultText: "none",
    parse: storeUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  },
  {
    key: "databaseUrl",
    flag: "--database-url <url>",
    env: ["TESSERA_DATABASE_URL"],
    help: "postgres://[user:password@]host:port/database for --store postgres",
    defaultText: "none",
    parse: storeUrl(["postgres:", "postgresql:"], "postgres://tessera@127.0.0.1:5432/tessera"),
  },
  {
    key: "revocationLeaseMs",
    flag: "--revocation-lease <ms>",
    env: ["TESSERA_REVOCATION_LEASE"],
    help: "redis/postgres: a node that has not confirmed the revocation log this recently stops trusting its cache (503 unavailable when the store is down too)",
    defaultText: "1000",
    parse: integer(100, 60_000),
  },
  {
    key: "sqliteLockTimeoutMs",
    flag: "--sqlite-lock-timeout <ms>",
    env: ["TESSERA_SQLITE_LOCK_TIMEOUT"],
    help: "sqlite: a write waiting this long for another process's write lock (the CLI, another server) gives up with 503 unavailable; 0 does not wait",
    defaultText: "5000",
    parse: integer(0, 600_000),
  },
  {
    key: "allowUnsafeRedis",
    flag: "--allow-unsafe-redis <on|off>",
    env: ["TESSERA_ALLOW_UNSAFE_REDIS"],
    help: "development only: start on a Redis that may evict keys or keeps nothing on disk (revocations can be lost)",
    defaultText: "off",
    parse: boolean,
  },
  {
    key: "tcpPort",
    flag: "--tcp-port <port>",
    env: ["TESSERA_TCP_PORT"],
    help: "TCP socket gateway port",
    defaultText: "3001",
    parse: integer(0, 65535),
  },
  {
    key: "grpcPort",
    flag: "--grpc-port <port>",
    env: ["TESSERA_GRPC_PORT"],
    help: "gRPC port",
    defaultText: "50051",
    parse: integer(0, 65535),
  },
  {
    key: "grpc",
    flag: "--grpc <on|off>",
    env: ["TESSERA_GRPC"],
    help: "serve the gRPC SessionService",
    defaultText: "on",
    parse: boolean,
  },
  {
    key: "grpcTlsCertFile",
    flag: "--grpc-tls-cert-file <file>",
    env: ["TESSERA_GRPC_TLS_CERT_FILE"],
    help: "PEM certificate chain: serve gRPC over TLS (with the key file)",
    defaultText: "none (plaintext)",
    parse: text,
  },
  {
    key: "grpcTlsKeyFile",
    flag: "--grpc-tls-key-file <file>",
    env: ["TESSERA_GRPC_TLS_KEY_FILE"],
    help: "PEM private key for gRPC over TLS",
    defaultText: "none",
    parse: text,
  },
  {
    key: "issuer",
    flag: "--issuer <iss>",
    env: ["TESSERA_ISSUER"],
    help: "`iss` claim of access JWTs",
    defaultText: "tessera",
    parse: text,
  },
  {
    key: "accessTokenTtlSeconds",
    flag: "--access-ttl <seconds>",
    env: ["TESSERA_ACCESS_TTL"],
    help: "access JWT lifetime",
    defaultText: "900",
    parse: integer(1, 86_400),
  },
  {
    key: "sessionTtlSeconds",
    flag: "--session-ttl <seconds>",
    env: ["TESSERA_SESSION_TTL"],
    help: "session lifetime (refresh extends it)",
    defaultText: "1209600",
    parse: integer(60, 10 * 365 * 86_400),
  },
  {
    key: "idleTimeoutSeconds",
    flag: "--idle-timeout <seconds>",
    env: ["TESSERA_IDLE_TIMEOUT"],
    help: "a session unused this long ends (token_expired); 0 turns it off",
    defaultText: "604800 (7 days)",
    parse: integer(0, 10 * 365 * 86_400),
  },
  {
    key: "absoluteLifetimeSeconds",
    flag: "--absolute-lifetime <seconds>",
    env: ["TESSERA_ABSOLUTE_LIFETIME"],
    help: "no session lives longer than this after its login, however it is refreshed or reissued (then token_expired)",
    defaultText: "2592000 (30 days)",
    parse: integer(60, 10 * 365 * 86_400),
  },
  {
    key: "eventsRetentionDays",
    flag: "--events-retention <days>",
    env: ["TESSERA_EVENTS_RETENTION"],
    help: "security events (GET /auth/events, tessera events) are kept this many days; 0 keeps them",
    defaultText: "90",
    parse: integer(0, 100 * 365),
  },
  {
    key: "webhookUrl",
    flag: "--webhook-url <url>",
    env: ["TESSERA_WEBHOOK_URL"],
    help: "POST security events here, signed (Standard Webhooks), retried until delivered",
    defaultText: "none",
    parse: webhookUrl,
  },
  {
    key: "webhookSecret",
    flag: "--webhook-secret <secret>",
    env: ["TESSERA_WEBHOOK_SECRET"],
    help: `HMAC-SHA256 key of the webhook signatures (≥ ${MIN_WEBHOOK_SECRET_BYTES} bytes, or whsec_<base64>); prefer the env var`,
    defaultText: "none",
    parse: text,
  },
  {
    key: "webhookEvents",
    flag: "--webhook-events <kinds>",
    env: ["TESSERA_WEBHOOK_EVENTS"],
    help: "comma list of the event kinds sent to the webhook",
    defaultText: "every kind",
    parse: eventKinds,
  },
  {
    key: "registration",
    flag: "--registration <open|closed>",
    env: ["TESSERA_REGISTRATION"],
    help: "whether POST /auth/register accepts new users (closed: 403 registration_closed; `tessera users add` still works)",
    defaultText: "open",
    parse: oneOf(["open", "closed"] as const),
  },
  {
    key: "maxSessionDataBytes",
    flag: "--max-session-data <bytes>",
    env: ["TESSERA_MAX_SESSION_DATA"],
    help: "largest session data",
    defaultText: "1048576",
    parse: integer(1, 64 * 1024 * 1024),
  },
  {
    key: "bodyLimitBytes",
    flag: "--body-limit <bytes>",
    env: ["TESSERA_BODY_LIMIT"],
    help: "largest HTTP request body",
    defaultText: "max session data + 65536",
    parse: integer(1024, 128 * 1024 * 1024),
  },
  {
    key: "jwtAlgorithm",
    flag: "--jwt-algorithm <alg>",
    env: ["TESSERA_JWT_ALGORITHM"],
    help: `access JWT algorithm (${SIGNING_ALGORITHMS.join(", ")}); a stored key of another is replaced`,
    defaultText: "the stored key's (EdDSA for the first)",
    parse: oneOf(SIGNING_ALGORITHMS),
  },
  {
    key: "jwtSecret",
    flag: "--jwt-secret <secret>",
    env: ["TESSERA_JWT_SECRET"],
    help: "HMAC secret (≥ 32 bytes) for HS*; prefer the env var",
    defaultText: "none",
    parse: text,
  },
  {
    key: "jwtPrivateKeyFile",
    flag: "--jwt-private-key-file <file>",
    env: ["TESSERA_JWT_PRIVATE_KEY_FILE"],
    help: "PKCS#8 PEM key (see `tessera keys generate`) instead of stored keys",
    defaultText: "none",
    parse: text,
  },
  {
    key: "trustProxy",
    flag: "--trust-proxy <value>",
    env: ["TESSERA_TRUST_PROXY"],
    help: "trust X-Forwarded-* from: true, or addresses/CIDRs",
    defaultText: "false",
    parse: (raw) =>
      typeof raw === "string" && !/^(1|true|yes|on|0|false|no|off)$/i.test(raw) ? text(raw) : boolean(raw),
  },
  {
    key: "cookieSecure",
    flag: "--cookie-secure <mode>",
    env: ["TESSERA_COOKIE_SECURE"],
    help: "Secure on the session cookie: auto (when HTTPS), true, false",
    defaultText: "auto",
    parse: (raw) => (raw === "auto" ? "auto" : boolean(raw)),
  },
  {
    key: "linkOrigins",
    flag: "--link-origins <origins>",
    env: ["TESSERA_LINK_ORIGINS"],
    help: "comma list of other origins links may redirect to (also CSRF-trusted)",
    defaultText: "none",
    parse: origins,
  },
  {
    key: "corsOrigins",
    flag: "--cors-origins <origins>",
    env: ["TESSERA_CORS_ORIGINS"],
    help: "comma list of origins allowed to call the API from a browser with credentials (CORS; Bearer only for changes)",
    defaultText: "none",
    parse: (raw) => {
      if (typeof raw === "string" && raw.split(",").some((item) => item.trim() === "*"))
        throw new Error("a wildcard cannot be used with credentials; list the origins");
      return origins(raw);
    },
  },
  {
    key: "publicUrl",
    flag: "--public-url <url>",
    env: ["TESSERA_PUBLIC_URL"],
    help: "origin users reach the server at; link URLs are built from it (never from the Host header)",
    defaultText: "none (a trusted proxy's X-Forwarded-Host, else the listen address)",
    parse: origin,
  },
  {
    key: "httpHeadersTimeoutMs",
    flag: "--http-headers-timeout <ms>",
    env: ["TESSERA_HTTP_HEADERS_TIMEOUT"],
    help: "HTTP: close a connection whose request headers take longer (answering 408)",
    defaultText: "10000",
    parse: integer(100, 600_000),
  },
  {
    key: "httpRequestTimeoutMs",
    flag: "--http-request-timeout <ms>",
    env: ["TESSERA_HTTP_REQUEST_TIMEOUT"],
    help: "HTTP: close a connection whose whole request takes longer",
    defaultText: "30000",
    parse: integer(100, 3_600_000),
  },
  {
    key: "httpKeepAliveTimeoutMs",
    flag: "--http-keep-alive-timeout <ms>",
    env: ["TESSERA_HTTP_KEEP_ALIVE_TIMEOUT"],
    help: "HTTP: close an idle keep-alive connection after this",
    defaultText: "5000",
    parse: integer(100, 600_000),
  },
  {
    key: "partnersFile",
    flag: "--partners-file <file>",
    env: ["TESSERA_PARTNERS_FILE"],
    help: "JSON file of partner keys: enables the signed-payload login provider",
    defaultText: "none",
    parse: text,
  },
  {
    key: "logLevel",
    flag: "--log-level <level>",
    env: ["TESSERA_LOG_LEVEL"],
    help: `log level (${LOG_LEVELS.join(", ")})`,
    defaultText: "info",
    parse: oneOf(LOG_LEVELS),
  },
  {
    key: "metrics",
    flag: "--metrics <on|off>",
    env: ["TESSERA_METRICS"],
    help: "serve GET /metrics",
    defaultText: "on",
    parse: boolean,
  },
  {
    key: "socketAcceptJwt",
    flag: "--socket-accept-jwt <on|off>",
    env: ["TESSERA_SOCKET_ACCEPT_JWT"],
    help: "let WebSocket and TCP clients authenticate with an access JWT, not only a session token",
    defaultText: "off",
    parse: boolean,
  },
];

const DEFAULTS = {
  port: 3000,
  host: "127.0.0.1",
  dataDir: "./data",
  tcpPort: 3001,
  grpcPort: 50051,
  grpc: true,
  grpcTlsCertFile: null,
  grpcTlsKeyFile: null,
  issuer: "tessera",
  accessTokenTtlSeconds: 900,
  sessionTtlSeconds: 14 * 24 * 3600,
  idleTimeoutSeconds: 7 * 24 * 3600,
  absoluteLifetimeSeconds: 30 * 24 * 3600,
  eventsRetentionDays: 90,
  webhookUrl: null,
  webhookSecret: null,
  webhookEvents: null,
  registration: "open",
  maxSessionDataBytes: 1024 * 1024,
  bodyLimitBytes: null,
  jwtAlgorithm: null,
  jwtSecret: null,
  jwtPrivateKeyFile: null,
  trustProxy: false,
  cookieSecure: "auto",
  linkOrigins: [],
  corsOrigins: [],
  publicUrl: null,
  store: "sqlite",
  redisUrl: null,
  databaseUrl: null,
  revocationLeaseMs: 1000,
  allowUnsafeRedis: false,
  sqliteLockTimeoutMs: null,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  httpKeepAliveTimeoutMs: 5000,
  partnersFile: null,
  logLevel: "info",
  metrics: true,
  socketAcceptJwt: false,
} as const satisfies Omit<ServerConfig, "databasePath">;

export interface LoadConfigInput {
  /** Parsed flags, by setting key (commander's camelCase names). */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths resolve against this. @default process.cwd() */
  readonly cwd?: string;
}

/** The configuration from flags, environment, config file and defaults; throws `ConfigError`. */
export function loadConfig(input: LoadConfigInput = {}): ServerConfig {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const flags = input.flags ?? {};
  const values: Record<string, unknown> = { ...DEFAULTS };
  const byKey = new Map(SETTINGS.map((setting) => [setting.key as string, setting]));

  const configFile = pick(byKey.get("config"), flags, env);
  if (configFile !== undefined) {
    const path = resolve(cwd, String(configFile.raw));
    for (const [key, raw] of Object.entries(readConfigFile(path))) {
      const setting = byKey.get(key);
      if (setting === undefined || key === "config")
        throw new ConfigError(`Unknown setting "${key}" in ${path}.`);
      values[key] = parseSetting(setting, raw, path);
    }
  }
  for (const setting of SETTINGS) {
    if (setting.key === "config") continue;
    const found = pick(setting, flags, env);
    if (found !== undefined) values[setting.key] = parseSetting(setting, found.raw, found.source);
  }

  const dataDir = resolve(cwd, String(values.dataDir));
  const databasePath =
    values.databasePath === undefined
      ? join(dataDir, "tessera.db")
      : resolve(cwd, String(values.databasePath));
  const config = { ...values, dataDir, databasePath } as unknown as ServerConfig;
  checkCombinations(config);
  return config;
}

function pick(
  setting: Setting | undefined,
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): { raw: unknown; source: string } | undefined {
  if (setting === undefined) return undefined;
  const flag = flags[setting.key];
  if (flag !== undefined)
    return { raw: flag, source: `--${setting.flag.replace(/^.*--/, "").split(" ")[0]}` };
  // Later names win: TESSERA_PORT over the generic PORT.
  for (const name of [...setting.env].reverse()) {
    const value = env[name];
    if (value !== undefined && value !== "") return { raw: value, source: name };
  }
  return undefined;
}

function parseSetting(setting: Setting, raw: unknown, source: string): unknown {
  try {
    return setting.parse(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // Secrets are never echoed back.
    const shown = SECRET_SETTINGS.has(setting.key) ? "" : `, got ${JSON.stringify(raw)}`;
    throw new ConfigError(`Invalid ${setting.key} (from ${source}): ${reason}${shown}.`);
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Cannot read config file ${path}: ${reason}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${path} must hold a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

function checkCombinations(config: ServerConfig): void {
  checkStore(config);
  const hmac = config.jwtAlgorithm?.startsWith("HS") ?? false;
  if (hmac && config.jwtSecret === null) {
    throw new ConfigError(
      `jwtAlgorithm ${config.jwtAlgorithm} needs a secret: set TESSERA_JWT_SECRET (≥ 32 bytes).`,
    );
  }
  if (!hmac && config.jwtSecret !== null) {
    throw new ConfigError(
      `jwtSecret is only used with HS256/384/512, not ${config.jwtAlgorithm ?? "the default (EdDSA)"}: set TESSERA_JWT_ALGORITHM.`,
    );
  }
  if (config.jwtSecret !== null && Buffer.byteLength(config.jwtSecret) < 32) {
    throw new ConfigError("jwtSecret must be at least 32 bytes.");
  }
  if (hmac && config.jwtPrivateKeyFile !== null) {
    throw new ConfigError("jwtPrivateKeyFile cannot be used with an HS* algorithm.");
  }
  if (config.httpHeadersTimeoutMs > config.httpRequestTimeoutMs) {
    throw new ConfigError("httpHeadersTimeoutMs cannot be longer than httpRequestTimeoutMs.");
  }
  if (config.webhookUrl !== null) {
    if (config.webhookSecret === null) {
      throw new ConfigError("webhookUrl needs a signing secret: set TESSERA_WEBHOOK_SECRET.");
    }
    if (webhookKey(config.webhookSecret).length < MIN_WEBHOOK_SECRET_BYTES) {
      throw new ConfigError(`webhookSecret must be at least ${MIN_WEBHOOK_SECRET_BYTES} bytes.`);
    }
  } else if (config.webhookSecret !== null || config.webhookEvents !== null) {
    throw new ConfigError("webhookSecret and webhookEvents need a webhookUrl: set --webhook-url.");
  }
  if ((config.grpcTlsCertFile === null) !== (config.grpcTlsKeyFile === null)) {
    throw new ConfigError("grpcTlsCertFile and grpcTlsKeyFile go together: set both, or neither.");
  }
}

/** Each store's own settings (its URL, SQLite's lock timeout) go with that store, and only with it. */
function checkStore(config: ServerConfig): void {
  if (config.store === "redis" && config.redisUrl === null) {
    throw new ConfigError(
      "store redis needs a Redis URL: set --redis-url redis://host:6379 (or TESSERA_REDIS_URL).",
    );
  }
  if (config.store === "postgres" && config.databaseUrl === null) {
    throw new ConfigError(
      "store postgres needs a database URL: set --database-url postgres://user@host:5432/db (or TESSERA_DATABASE_URL).",
    );
  }
  if (config.redisUrl !== null && config.store !== "redis") {
    throw new ConfigError(
      `redisUrl is set but the store is ${config.store}: add --store redis (or TESSERA_STORE=redis).`,
    );
  }
  if (config.databaseUrl !== null && config.store !== "postgres") {
    throw new ConfigError(
      `databaseUrl is set but the store is ${config.store}: add --store postgres (or TESSERA_STORE=postgres).`,
    );
  }
  if (config.sqliteLockTimeoutMs !== null && config.store !== "sqlite") {
    throw new ConfigError(
      `sqliteLockTimeoutMs is set but the store is ${config.store}: it applies to --store sqlite only.`,
    );
  }
}

/** The `serve --help` lines for environment variables. */
export function environmentHelp(): string {
  const rows = SETTINGS.map(
    (setting) => `  ${setting.env.join(", ").padEnd(30)} ${setting.help} (default: ${setting.defaultText})`,
  );
  return [
    "Environment variables (a flag wins over its variable, a variable over the config file):",
    ...rows,
  ].join("\n");
}
