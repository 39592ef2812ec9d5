/**
 * The HTTP surface's error mapping: the complete code → status table of the contract, the
 * one error body shape (`{"error": {"code", "message", "issues"?}}`), and the translation of
 * Fastify's own failures (bad JSON, oversized body, unsupported media type, unknown route)
 * into contract codes. Anything that is not a `TesseraError` becomes `internal_error`: the
 * stack goes to the log, never to the client.
 *
 * Framework-free on purpose: the Express and Hono guards answer with the same body.
 */
import { type ErrorCode, type FieldIssue, TesseraError, toTesseraError } from "../../errors.js";

/** Every code's HTTP status (contract "HTTP API"; `docs/errors.md`). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_credentials: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  refresh_token_reused: 401,
  forbidden: 403,
  reauthentication_required: 403,
  registration_closed: 403,
  not_found: 404,
  username_taken: 409,
  link_used: 410,
  link_expired: 410,
  payload_too_large: 413,
  rate_limited: 429,
  auth_timeout: 401,
  unavailable: 503,
  internal_error: 500,
};

export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly issues?: readonly FieldIssue[];
  };
}

/** What a surface writes for an error: status, extra headers and the JSON body. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
}

export function errorResponse(error: TesseraError): ErrorResponse {
  const headers: Record<string, string> = {};
  if (error.code === "rate_limited")
    headers["retry-after"] = String(Math.max(1, error.retryAfterSeconds ?? 1));
  const body: ErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.code === "invalid_request" && error.issues !== undefined ? { issues: error.issues } : {}),
    },
  };
  return { status: HTTP_STATUS[error.code], headers, body };
}

/** Fastify's error codes for client mistakes, and the contract code each becomes. */
const FRAMEWORK_CODES: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "The request body is too large." },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "invalid_request",
    message: "Unsupported Content-Type; send application/json.",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "invalid_request",
    message: "The body size does not match Content-Length.",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_request", message: "The JSON body is empty." },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_request", message: "The body is not valid JSON." },
  FST_ERR_BAD_URL: { code: "invalid_request", message: "The URL is malformed." },
  FST_ERR_ASYNC_CONSTRAINT: { code: "invalid_request", message: "The request could not be routed." },
};

/** The error, as seen by a client: a `TesseraError`, whatever was actually thrown. */
export function clientError(error: unknown): TesseraError {
  if (error instanceof TesseraError) return error;
  if (typeof error === "object" && error !== null) {
    const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
    const known = typeof code === "string" ? FRAMEWORK_CODES[code] : undefined;
    if (known !== undefined) return new TesseraError(known.code, known.message, { cause: error });
    // Another framework complaint about the request (4xx) is still the client's mistake.
    if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
      if (statusCode === 404) return new TesseraError("not_found", "No such route.", { cause: error });
      if (statusCode === 413)
        return new TesseraError("payload_too_large", "The request is too large.", { cause: error });
      return new TesseraError("invalid_request", "The request is malformed.", { cause: error });
    }
  }
  return toTesseraError(error);
}
