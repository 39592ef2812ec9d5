/**
 * The server's structured log (pino, JSON lines on stdout, written asynchronously in
 * batches by `LogStream` — `LOG_BATCH_BYTES` at a time, or whatever is waiting
 * `LOG_FLUSH_MS` after its first line — flushed on shutdown and on exit). Request lines
 * carry the route pattern, status, latency and request id — never the URL, headers or
 * bodies (see the HTTP app's `request-log.ts`) — so the hot path has nothing to redact and
 * pays for no redaction; they are written by `requestLineWriter`, not through pino's
 * generic path. As a second line of defence, a field named like a
 * credential (authorization, cookie, a token, password, secret or hash) is censored by
 * pino serializers, which run only when a logged object has such a key: at the top level
 * directly, and one level down inside the objects that could carry one (`headers`, `req`,
 * `request`, `body`, `input`, `options`).
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { REQUEST_LINE, type RequestLineWriter } from "../surfaces/http/request-log.js";
import { LogStream } from "./log-stream.js";

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

/** Lines are written to stdout once this much is waiting (under load, hundreds of lines a write)… */
export const LOG_BATCH_BYTES = 65536;
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
  // A request never waits for stdout; lines are flushed on shutdown and on exit. A write
  // per line cost a system call and a thread-pool round trip per request.
  const destination =
    options.destination ?? new LogStream({ fd: 1, batchBytes: LOG_BATCH_BYTES, flushMs: LOG_FLUSH_MS });
  const logger = pino(settings, destination);
  Object.defineProperty(logger, REQUEST_LINE, { value: requestLineWriter(logger, destination) });
  return logger;
}

/** pino's info level number. */
const INFO = 30;

/**
 * The HTTP app's request line, written straight to `destination`: the very line pino
 * writes for `logger.info({reqId, method, route, status, ms}, "request")` with the
 * settings above (level, time, the base bindings, the fields, msg), built from five known
 * fields instead of by pino's walk over an object. Strings are JSON-escaped like pino's;
 * no field can hold a credential (the route is the pattern, never the URL).
 */
function requestLineWriter(logger: Logger, destination: DestinationStream): RequestLineWriter {
  return (reqId, method, route, status, ms) => {
    if (logger.levelVal > INFO) return;
    destination.write(
      `{"level":30,"time":${Date.now()},"service":"tessera","reqId":${JSON.stringify(reqId)},"method":${JSON.stringify(method)},"route":${JSON.stringify(route)},"status":${status},"ms":${ms},"msg":"request"}\n`,
    );
  };
}
