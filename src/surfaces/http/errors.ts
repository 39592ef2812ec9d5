/**
 * The HTTP surface's error mapping: the complete code → status table of the contract, the
 * one error body shape (`{"error": {"code", "message", "issues"?}}`), and the translation of
 * Fastify's and Node's own failures (bad JSON, oversized body, unsupported media type,
 * unknown route, over-long path parameter, oversized headers, a timed-out request) into
 * contract codes. Those keep their HTTP status (414, 431, 408: clients and proxies act on
 * it) with the contract's body; no message ever repeats the request (its path may carry a
 * token). Anything that is not a `TesseraError` becomes `internal_error`: the stack goes
 * to the log, never to the client.
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

/**
 * Fastify's error codes for client mistakes, the contract code each becomes, and the HTTP
 * status when it is not the code's own.
 */
const FRAMEWORK_CODES: Readonly<Record<string, { code: ErrorCode; message: string; status?: number }>> = {
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
  FST_ERR_MAX_PARAM_LENGTH: {
    code: "invalid_request",
    message: "A path parameter is too long.",
    status: 414,
  },
  FST_ERR_ASYNC_CONSTRAINT: { code: "invalid_request", message: "The request could not be routed." },
};

/**
 * Node's HTTP parser failures (the `clientError` event, before any route runs), by the
 * parser's error code: status and message of the contract body written on the raw socket.
 */
const PARSER_ERRORS: Readonly<Record<string, { status: number; message: string }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: "The request headers are too large." },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: "The request took too long to arrive." },
  HPE_URI_TOO_LONG: { status: 414, message: "The request URL is too long." },
};

/**
 * The HTTP response for a thrown error: the contract body, with the status of the code —
 * or, for the few framework failures that have a more precise status (414), that one.
 */
export function httpErrorResponse(error: unknown): { visible: TesseraError; response: ErrorResponse } {
  const visible = clientError(error);
  const response = errorResponse(visible);
  const frameworkCode =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  const status = typeof frameworkCode === "string" ? FRAMEWORK_CODES[frameworkCode]?.status : undefined;
  return { visible, response: status === undefined ? response : { ...response, status } };
}

/**
 * The raw HTTP/1.1 response for a request Node's parser refused (malformed request line,
 * headers too large, headers too slow): always `invalid_request` in the contract's shape,
 * with the closest status; the connection is closed after it.
 */
export function parserErrorResponse(parserCode: string | undefined): string {
  const known = parserCode === undefined ? undefined : PARSER_ERRORS[parserCode];
  const status = known?.status ?? 400;
  const reason = STATUS_TEXT[status] ?? "Bad Request";
  const body = JSON.stringify({
    error: { code: "invalid_request", message: known?.message ?? "The request is malformed." },
  });
  return [
    `HTTP/1.1 ${status} ${reason}`,
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Cache-Control: no-store",
    "Connection: close",
    "",
    body,
  ].join("\r\n");
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
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
