/**
 * The gRPC surface's error mapping: the complete code → status table, and the one way an
 * error leaves this surface. The contract's error code travels twice, so that every
 * client can read it: as the prefix of the status message (`"token_revoked: The session
 * has ended."`, what generic tools such as grpcurl print) and as the `tessera-error-code`
 * trailing metadata entry (what programs should read). `rate_limited` adds `retry-after`
 * (seconds) and `invalid_request` adds `tessera-error-issues` (JSON field issues).
 *
 * Anything that is not a `TesseraError` becomes `internal_error`: its stack goes to the
 * log, never to the client.
 */
import { Metadata, type StatusObject, status } from "@grpc/grpc-js";
import { type ErrorCode, TesseraError, toTesseraError } from "../../errors.js";

/** Every code's gRPC status (contract "gRPC"; the statuses follow the HTTP table's meaning). */
export const GRPC_STATUS: Record<ErrorCode, status> = {
  invalid_request: status.INVALID_ARGUMENT,
  invalid_credentials: status.UNAUTHENTICATED,
  token_invalid: status.UNAUTHENTICATED,
  token_expired: status.UNAUTHENTICATED,
  token_revoked: status.UNAUTHENTICATED,
  refresh_token_reused: status.UNAUTHENTICATED,
  forbidden: status.PERMISSION_DENIED,
  reauthentication_required: status.PERMISSION_DENIED,
  registration_closed: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
  username_taken: status.ALREADY_EXISTS,
  // A spent or stale link is a precondition the client cannot fix by retrying.
  link_used: status.FAILED_PRECONDITION,
  link_expired: status.FAILED_PRECONDITION,
  payload_too_large: status.RESOURCE_EXHAUSTED,
  rate_limited: status.RESOURCE_EXHAUSTED,
  auth_timeout: status.UNAUTHENTICATED,
  unavailable: status.UNAVAILABLE,
  internal_error: status.INTERNAL,
};

/** Trailing metadata key carrying the contract error code. */
export const ERROR_CODE_KEY = "tessera-error-code";
/** Trailing metadata key carrying `invalid_request` field issues as JSON. */
export const ERROR_ISSUES_KEY = "tessera-error-issues";

/** Where the surface reports what a client must not see (pino-compatible). */
export interface GrpcLogger {
  error(details: object, message: string): void;
}

/** The status a handler answers with for `error`, whatever was thrown. */
export function serviceError(
  thrown: unknown,
  context: { logger?: GrpcLogger | undefined; method: string },
): StatusObject {
  const error = toTesseraError(thrown);
  if (error.code === "internal_error") {
    // The original failure (and its stack) is for the operator only.
    const cause = thrown instanceof TesseraError ? (thrown.cause ?? thrown) : thrown;
    context.logger?.error({ err: cause, method: context.method }, "grpc call failed");
  }
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, error.code);
  if (error.code === "rate_limited") {
    metadata.set("retry-after", String(Math.max(1, error.retryAfterSeconds ?? 1)));
  }
  if (error.code === "invalid_request" && error.issues !== undefined) {
    metadata.set(ERROR_ISSUES_KEY, JSON.stringify(error.issues));
  }
  // A plain status, not an Error: nothing with a stack is ever handed to the transport.
  return { code: GRPC_STATUS[error.code], details: `${error.code}: ${error.message}`, metadata };
}
