/**
 * The server's structured log (pino, JSON lines on stdout). Request lines carry the route
 * pattern, never the URL, headers or bodies (see the HTTP app); as a second line of
 * defence, anything that looks like a credential is censored wherever it appears in a
 * logged object: authorization and cookie headers, Set-Cookie, and any field named like a
 * token, password, secret or hash.
 */
import { type Logger, type LoggerOptions, pino } from "pino";

/** Field names whose values never reach a log line, at any of the first levels of nesting. */
const SECRET_FIELDS = [
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
];

export function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
    const sep = key.startsWith("[") ? "" : ".";
    paths.push(key, `*${sep}${key}`, `*.*${sep}${key}`, `*.*.*${sep}${key}`);
  }
  return paths;
}

export interface CreateLoggerOptions {
  /** @default "info" */
  readonly level?: string;
  /** Where lines go. @default stdout */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const settings: LoggerOptions = {
    level: options.level ?? "info",
    base: { service: "tessera" },
    redact: { paths: redactPaths(), censor: "[redacted]" },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
