/**
 * The one error type of Tessera. Every failure a client can cause or observe carries one
 * of the closed set of codes from the contract (`shared/contract.md`); each surface maps
 * codes to its own statuses through a complete `Record<ErrorCode, …>` table, so adding a
 * code here fails the type check until every surface has decided what it means.
 *
 * Messages are written for people and never contain a token, a password or a hash.
 */

/** Stable, documented error codes. The HTTP statuses are in `docs/errors.md`. */
export const ERROR_CODES = [
  "invalid_request",
  "invalid_credentials",
  "token_invalid",
  "token_expired",
  "token_revoked",
  "refresh_token_reused",
  "forbidden",
  "reauthentication_required",
  "registration_closed",
  "not_found",
  "username_taken",
  "link_used",
  "link_expired",
  "payload_too_large",
  "rate_limited",
  "auth_timeout",
  "unavailable",
  "internal_error",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A field-level complaint about a request body, e.g. `{ path: "password", message: "…" }`. */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

export interface TesseraErrorOptions {
  /** For `rate_limited`: how long the caller should wait, in whole seconds. */
  readonly retryAfterSeconds?: number;
  /** For `invalid_request`: which fields were wrong. */
  readonly issues?: readonly FieldIssue[];
  /** The underlying failure, kept for logs; never sent to a client. */
  readonly cause?: unknown;
}

export class TesseraError extends Error {
  override readonly name = "TesseraError";
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly issues: readonly FieldIssue[] | undefined;

  constructor(code: ErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.issues = options.issues;
  }
}

export function isTesseraError(value: unknown): value is TesseraError {
  return value instanceof TesseraError;
}

/**
 * Turns anything thrown into a `TesseraError` that is safe to show a client: a
 * `TesseraError` passes through, anything else becomes `internal_error` with a generic
 * message (the original stays in `cause` for the log).
 */
export function toTesseraError(value: unknown): TesseraError {
  if (value instanceof TesseraError) return value;
  return new TesseraError("internal_error", "An internal error occurred.", { cause: value });
}
