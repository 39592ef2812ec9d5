/**
 * The SQLite rows of the store and their translation to and from the records of the
 * `SessionStore` interface: snake_case columns, JSON as TEXT, booleans as 0/1.
 * Kept apart from `sqlite-store.ts` so that file reads as the operations alone.
 */

import { eventFromPayload } from "../event-rows.js";
import type {
  JsonValue,
  LinkRecord,
  SecurityEventRecord,
  SessionRecord,
  SessionTokenType,
  SigningKeyRecord,
  StoreEvent,
  UserRecord,
  WebhookDelivery,
} from "../session-store.js";

export interface UserRow {
  readonly id: number;
  readonly uuid: string;
  readonly username: string;
  readonly username_key: string;
  readonly password_hash: string | null;
  readonly created_at: number;
  readonly disabled_at: number | null;
}

export interface SessionRow {
  readonly id: string;
  readonly user_id: number;
  readonly device_id: string | null;
  readonly device_name: string | null;
  readonly created_at: number;
  readonly last_seen_at: number;
  readonly expires_at: number;
  readonly max_expires_at: number;
  readonly authenticated_at: number;
  /** JSON text: an array of strings. */
  readonly auth_methods: string;
  readonly token_type: SessionTokenType;
  readonly user_agent: string | null;
  readonly ip_address: string | null;
  /** JSON text. */
  readonly data: string;
  readonly session_token_hash: string | null;
  readonly revoked_at: number | null;
  readonly revoked_reason: string | null;
}

export interface RefreshTokenRow {
  readonly hash: string;
  readonly session_id: string;
  readonly created_at: number;
  readonly expires_at: number;
  readonly spent_at: number | null;
  readonly successor_hash: string | null;
  readonly sealed_successor: string | null;
}

export interface LinkRow {
  readonly hash: string;
  readonly user_id: number;
  readonly issued_by_session_id: string | null;
  /** JSON text. */
  readonly data: string;
  readonly redirect_to: string | null;
  readonly confirm: 0 | 1;
  readonly provider: string | null;
  readonly device_id: string | null;
  readonly created_at: number;
  readonly expires_at: number;
  readonly consumed_at: number | null;
}

export interface KeyRow {
  readonly kid: string;
  readonly alg: string;
  readonly private_jwk: string;
  readonly public_jwk: string | null;
  readonly created_at: number;
  readonly retired_at: number | null;
}

export interface SecurityEventRow {
  readonly id: string;
  readonly at: number;
  readonly kind: string;
  readonly user_id: number | null;
  readonly username_key: string | null;
  readonly session_id: string | null;
  readonly surface: string | null;
  readonly ip_address: string | null;
  readonly user_agent: string | null;
  /** JSON text. */
  readonly detail: string;
}

export interface WebhookRow {
  readonly id: string;
  readonly event_id: string;
  readonly endpoint: string;
  readonly payload: string;
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly created_at: number;
}

export interface EventRow {
  readonly seq: number;
  readonly kind: string;
  /** JSON text: the event without its `kind`. */
  readonly payload: string;
}

export function userFromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    uuid: row.uuid,
    username: row.username,
    usernameKey: row.username_key,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

export function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    deviceId: row.device_id,
    deviceName: row.device_name,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    maxExpiresAt: row.max_expires_at,
    authenticatedAt: row.authenticated_at,
    authMethods: parseJson(row.auth_methods) as string[],
    tokenType: row.token_type,
    metadata: { userAgent: row.user_agent, ipAddress: row.ip_address },
    data: parseJson(row.data),
    sessionTokenHash: row.session_token_hash,
    revokedAt: row.revoked_at,
    revokedReason: row.revoked_reason,
  };
}

export function sessionToRow(session: SessionRecord): SessionRow {
  return {
    id: session.id,
    user_id: session.userId,
    device_id: session.deviceId,
    device_name: session.deviceName,
    created_at: session.createdAt,
    last_seen_at: session.lastSeenAt,
    expires_at: session.expiresAt,
    max_expires_at: session.maxExpiresAt,
    authenticated_at: session.authenticatedAt,
    auth_methods: JSON.stringify(session.authMethods),
    token_type: session.tokenType,
    user_agent: session.metadata.userAgent,
    ip_address: session.metadata.ipAddress,
    data: JSON.stringify(session.data),
    session_token_hash: session.sessionTokenHash,
    revoked_at: session.revokedAt,
    revoked_reason: session.revokedReason,
  };
}

export function linkFromRow(row: LinkRow): LinkRecord {
  return {
    hash: row.hash,
    userId: row.user_id,
    issuedBySessionId: row.issued_by_session_id,
    data: parseJson(row.data),
    redirectTo: row.redirect_to,
    confirm: row.confirm === 1,
    provider: row.provider,
    deviceId: row.device_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
  };
}

export function linkToRow(link: LinkRecord): LinkRow {
  return {
    hash: link.hash,
    user_id: link.userId,
    issued_by_session_id: link.issuedBySessionId,
    data: JSON.stringify(link.data),
    redirect_to: link.redirectTo,
    confirm: link.confirm ? 1 : 0,
    provider: link.provider,
    device_id: link.deviceId,
    created_at: link.createdAt,
    expires_at: link.expiresAt,
    consumed_at: link.consumedAt,
  };
}

export function keyFromRow(row: KeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}

export function securityEventFromRow(row: SecurityEventRow): SecurityEventRecord {
  return {
    id: row.id,
    at: row.at,
    kind: row.kind,
    userId: row.user_id,
    usernameKey: row.username_key,
    sessionId: row.session_id,
    surface: row.surface,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    detail: parseJson(row.detail),
  };
}

export function securityEventToRow(event: SecurityEventRecord): SecurityEventRow {
  return {
    id: event.id,
    at: event.at,
    kind: event.kind,
    user_id: event.userId,
    username_key: event.usernameKey,
    session_id: event.sessionId,
    surface: event.surface,
    ip_address: event.ipAddress,
    user_agent: event.userAgent,
    detail: JSON.stringify(event.detail),
  };
}

export function webhookFromRow(row: WebhookRow): WebhookDelivery {
  return {
    id: row.id,
    eventId: row.event_id,
    endpoint: row.endpoint,
    payload: row.payload,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
  };
}

/** Reads an event row written by this or another process (see `eventFromPayload`). */
export function eventFromRow(row: EventRow): StoreEvent | null {
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    return null;
  }
  return eventFromPayload(row.kind, payload);
}

function parseJson(text: string): JsonValue {
  // The column has a json_valid CHECK and is only written by JSON.stringify.
  return JSON.parse(text) as JsonValue;
}
