/**
 * The client's error: the same shape as the server's `TesseraError` (`code` from the
 * contract's closed list, a human `message`, `issues` for `invalid_request`,
 * `retryAfterSeconds` for `rate_limited`) plus the HTTP `status` it came with. Built from
 * the `{"error": {code, message}}` body; a failure to reach the server at all is
 * `unavailable` with status 0 and the network error as `cause`.
 *
 * Only the *type* of the code list is shared with the server, so the SDK loads no server
 * code.
 */
import type { ErrorCode, FieldIssue } from "../errors.js";

export type { ErrorCode, FieldIssue };

export class TesseraError extends Error {
  override readonly name = "TesseraError";
  readonly code: ErrorCode;
  /** The HTTP status, or 0 when no response arrived (network failure, socket close). */
  readonly status: number;
  readonly issues: readonly FieldIssue[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      status?: number;
      issues?: readonly FieldIssue[];
      retryAfterSeconds?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 0;
    this.issues = options.issues;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; issues?: unknown };
}

/** The contract error a failed response carries (the body is read; pass a clone to keep it). */
export async function errorFromResponse(response: Response): Promise<TesseraError> {
  let body: ErrorBody = {};
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    // Not the contract's JSON (a proxy's page, say): classified by status below.
  }
  const retry = Number(response.headers.get("retry-after"));
  const code = typeof body.error?.code === "string" ? (body.error.code as ErrorCode) : codeOfStatus(response);
  return new TesseraError(
    code,
    typeof body.error?.message === "string" ? body.error.message : `HTTP ${response.status}`,
    {
      status: response.status,
      ...(Array.isArray(body.error?.issues) ? { issues: body.error.issues as FieldIssue[] } : {}),
      ...(Number.isFinite(retry) && retry > 0 ? { retryAfterSeconds: retry } : {}),
    },
  );
}

function codeOfStatus(response: Response): ErrorCode {
  const { status } = response;
  if (status === 401) return "token_invalid";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 413) return "payload_too_large";
  if (status === 429) return "rate_limited";
  if (status >= 500) return status === 503 ? "unavailable" : "internal_error";
  return "invalid_request";
}

/** A fetch that could not reach the server. */
export function networkError(cause: unknown): TesseraError {
  return new TesseraError("unavailable", "The server could not be reached.", { cause });
}
