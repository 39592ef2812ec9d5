/**
 * The service's messages as TypeScript sees them, the checks on each request (field
 * types and lengths, required fields), and the responses built from engine results.
 * Field names are the `.proto`'s; times on the wire are unix seconds.
 *
 * Length limits are the HTTP login's (`passwordInput`) and the engine's token limit, so a
 * request is refused the same way on every surface, and before any hashing.
 */
import type { TokenPair, ValidatedSession } from "../../engine/types.js";
import { TesseraError } from "../../errors.js";
import { MALFORMED } from "./definition.js";

export interface CreateSessionRequest {
  readonly username: string;
  readonly password: string;
  readonly device_uuid: string;
}

export interface ReissueSessionRequest {
  readonly reissue_token: string;
}

export interface GetSessionRequest {
  readonly token: string;
}

/** CreateSessionResponse and ReissueSessionResponse (the same fields). */
export interface SessionTokensResponse {
  readonly auth_token: string;
  readonly reissue_token: string;
  readonly exp: number;
  readonly user_id: number;
  readonly username: string;
  readonly user_uuid: string;
}

export interface GetSessionResponse {
  readonly session_id: string;
  readonly user_id: number;
  readonly username: string;
  readonly user_uuid: string;
  readonly device_uuid: string;
  readonly exp: number;
  readonly token_type: string;
  readonly data_json: string;
  readonly credential: string;
  readonly created_at: number;
  readonly last_seen_at: number;
  readonly user_agent: string;
  readonly ip_address: string;
}

const LIMITS = {
  username: 256,
  password: 4096,
  device_uuid: 128,
  reissue_token: 8192,
  token: 8192,
} as const;

type Field = keyof typeof LIMITS;

function invalid(field: string, message: string): TesseraError {
  return new TesseraError("invalid_request", `${field} ${message}.`, { issues: [{ path: field, message }] });
}

function requireMessage(raw: unknown): Record<string, unknown> {
  if (raw === MALFORMED || typeof raw !== "object" || raw === null) {
    throw new TesseraError("invalid_request", "The request message could not be decoded.");
  }
  return raw as Record<string, unknown>;
}

/** A string field within its limit; `required` refuses the empty string (proto3's "absent"). */
function text(message: Record<string, unknown>, field: Field, required: boolean): string {
  const value = message[field] ?? "";
  if (typeof value !== "string") throw invalid(field, "must be a string");
  if (required && value.length === 0) throw invalid(field, "is required");
  if (value.length > LIMITS[field]) throw invalid(field, `must be at most ${LIMITS[field]} characters`);
  return value;
}

export function parseCreateSession(raw: unknown): CreateSessionRequest {
  const message = requireMessage(raw);
  return {
    username: text(message, "username", true),
    password: text(message, "password", true),
    device_uuid: text(message, "device_uuid", true),
  };
}

export function parseReissueSession(raw: unknown): ReissueSessionRequest {
  return { reissue_token: text(requireMessage(raw), "reissue_token", true) };
}

/** `token` may be empty: the caller then falls back to the authorization metadata. */
export function parseGetSession(raw: unknown): GetSessionRequest {
  return { token: text(requireMessage(raw), "token", false) };
}

export function parseDestroySession(raw: unknown): void {
  requireMessage(raw);
}

function unixSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

export function tokensResponse(pair: TokenPair): SessionTokensResponse {
  return {
    auth_token: pair.accessToken,
    reissue_token: pair.refreshToken,
    exp: unixSeconds(pair.accessExpiration),
    user_id: pair.user.id,
    username: pair.user.username,
    user_uuid: pair.user.uuid,
  };
}

/**
 * Responses by validation result. The engine hands back the same `ValidatedSession`
 * object while a session stays cached, so the JSON of its data (up to 1 MiB) and the
 * date conversions are done once per cached session, not once per call.
 */
const responses = new WeakMap<ValidatedSession, GetSessionResponse>();

export function getSessionResponse(validated: ValidatedSession): GetSessionResponse {
  const known = responses.get(validated);
  if (known !== undefined) return known;
  const { session, user } = validated;
  const response: GetSessionResponse = {
    session_id: session.id,
    user_id: user.id,
    username: user.username,
    user_uuid: user.uuid,
    device_uuid: session.deviceId ?? "",
    exp: unixSeconds(session.expiresAt),
    token_type: session.tokenType,
    data_json: JSON.stringify(session.data ?? null),
    credential: validated.credential,
    created_at: unixSeconds(session.createdAt),
    last_seen_at: unixSeconds(session.lastSeenAt),
    user_agent: session.metadata.userAgent ?? "",
    ip_address: session.metadata.ipAddress ?? "",
  };
  responses.set(validated, response);
  return response;
}
