/**
 * The server's structured log (pino, JSON lines on stdout, written asynchronously in
 * batches — at least `LOG_BATCH_BYTES` at a time, and whatever is waiting every
 * `LOG_FLUSH_MS` — and flushed on shutdown). Request lines carry the route pattern, status, latency and request
 * id — never the URL, headers or bodies (see the HTTP app) — so the hot path has nothing to
 * redact and pays for no redaction. As a second line of defence, a field named like a
 * credential (authorization, cookie, a token, password, secret or hash) is censored by
 * pino serializers, which run only when a logged object has such a key: at the top level
 * directly, and one level down inside the objects that could carry one (`headers`, `req`,
 * `request`, `body`, `input`, `options`).
 */
import {
  type DestinationStream,
  type Logger,
  type LoggerOptions,
  pino,
  destination as pinoDestination,
} from "pino";

/** Field names whose values never reach a log line. */
export const SECRET_FIELDS = [
  "authorization",
  "cookie",
  "set-cookie",
  "password",
  "passwordHash",
  "token",
  "accessToken",
  "refreshToken",
  "sessionToken",
  "reissueToken",
  "secret",
  "jwtSecret",
] as const;

const CENSOR = "[redacted]";
const SECRET = new Set<string>(SECRET_FIELDS.map((field) => field.toLowerCase()));
/** Keys whose values may be objects holding a credential. */
const CONTAINERS = ["headers", "req", "request", "body", "input", "options"] as const;

/** A copy of `value` with every credential-named field censored, down to `depth` levels. */
export function censor(value: unknown, depth = 3): unknown {
  if (typeof value !== "object" || value === null || depth < 0) return value;
  if (Array.isArray(value)) return value.map((item) => censor(item, depth - 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET.has(key.toLowerCase()) ? CENSOR : censor(inner, depth - 1);
  }
  return out;
}

function serializers(): Record<string, (value: unknown) => unknown> {
  const table: Record<string, (value: unknown) => unknown> = {};
  for (const field of SECRET_FIELDS) table[field] = () => CENSOR;
  for (const field of CONTAINERS) table[field] = (value) => censor(value);
  table.err = (value) => pino.stdSerializers.err(value as Error);
  return table;
}

/** Lines are written to stdout once this much is waiting (one write for many lines)… */
export const LOG_BATCH_BYTES = 4096;
/** …or this often, so that a quiet server's lines are not held back. */
export const LOG_FLUSH_MS = 250;

export interface CreateLoggerOptions {
  /** @default "info" */
  readonly level?: string;
  /** Where lines go. @default stdout, written asynchronously */
  readonly destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const settings: LoggerOptions = {
    level: options.level ?? "info",
    base: { service: "tessera" },
    serializers: serializers(),
  };
  // `sync: false`: a request never waits for stdout; lines are flushed on shutdown. A write
  // per line cost a system call and a thread-pool round trip per request.
  return pino(
    settings,
    options.destination ??
      pinoDestination({ fd: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS }),
  );
}
