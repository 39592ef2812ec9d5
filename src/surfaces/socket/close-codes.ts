/**
 * The socket surface's error table: the WebSocket close code for every `ErrorCode` when a
 * connection ends because of it (contract "Socket protocol": 4401 for failed or ended
 * authentication with the code as reason, 4400 for a malformed frame, 1009 for an
 * oversized one). The reason string is always the error code itself. TCP has no close
 * codes: it sends the `error` frame with the same code, then ends the connection.
 *
 * Codes the contract does not place borrow the HTTP status in the 4000 range, except the
 * server's own trouble, which uses the standard codes 1011 (internal error) and 1013 (try
 * again later) so generic clients know to reconnect.
 */
import type { ErrorCode } from "../../errors.js";

export const WEBSOCKET_CLOSE_CODE: Record<ErrorCode, number> = {
  invalid_request: 4400,
  invalid_credentials: 4401,
  token_invalid: 4401,
  token_expired: 4401,
  token_revoked: 4401,
  refresh_token_reused: 4401,
  auth_timeout: 4401,
  forbidden: 4403,
  reauthentication_required: 4403,
  registration_closed: 4403,
  not_found: 4404,
  username_taken: 4409,
  link_used: 4410,
  link_expired: 4410,
  payload_too_large: 1009,
  rate_limited: 4429,
  unavailable: 1013,
  internal_error: 1011,
};

/** Sent when the gateway itself shuts down: the standard "going away". */
export const GOING_AWAY = 1001;
