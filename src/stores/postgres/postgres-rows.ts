/**
 * The PostgreSQL rows of the store and their translation to and from the records of the
 * `SessionStore` interface: snake_case columns, int8 read as numbers (see
 * `postgres-connection.ts`), `json` columns parsed by the driver, booleans as booleans.
 * JSON parameters are always sent as `JSON.stringify` text with a `::json` cast: the driver
 * would send a JavaScript array as a PostgreSQL array.
 */

import type {
  JsonValue,
  LinkRecord,
  SecurityEventRecord,
  SessionRecord,
  SessionTokenType,
  SigningKeyRecord,
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
  readonly auth_methods: string[];
  readonly token_type: SessionTokenType;
  readonly user_agent: string | null;
  readonly ip_address: string | null;
  readonly data: JsonValue;
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
  readonly data: JsonValue;
  readonly redirect_to: string | null;
  readonly confirm: boolean;
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
  readonly detail: JsonValue;
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

/** The columns of `sessions` in the order `INSERT_SESSION` binds them. */
export function sessionParams(session: SessionRecord): unknown[] {
  return [
    session.id,
    session.userId,
    session.deviceId,
    session.deviceName,
    session.createdAt,
    session.lastSeenAt,
    session.expiresAt,
    session.maxExpiresAt,
    session.authenticatedAt,
    JSON.stringify(session.authMethods),
    session.tokenType,
    session.metadata.userAgent,
    session.metadata.ipAddress,
    JSON.stringify(session.data),
    session.sessionTokenHash,
  ];
}

/** The columns of `links` in the order `INSERT_LINK` binds them. */
export function linkParams(link: Omit<LinkRecord, "consumedAt">): unknown[] {
  return [
    link.hash,
    link.userId,
    link.issuedBySessionId,
    JSON.stringify(link.data),
    link.redirectTo,
    link.confirm,
    link.provider,
    link.deviceId,
    link.createdAt,
    link.expiresAt,
  ];
}

/** The columns of `security_events` in the order `INSERT_SECURITY_EVENT` binds them. */
export function securityEventParams(event: SecurityEventRecord): unknown[] {
  return [
    event.id,
    event.at,
    event.kind,
    event.userId,
    event.usernameKey,
    event.sessionId,
    event.surface,
    event.ipAddress,
    event.userAgent,
    JSON.stringify(event.detail),
  ];
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
    authMethods: row.auth_methods,
    tokenType: row.token_type,
    metadata: { userAgent: row.user_agent, ipAddress: row.ip_address },
    data: row.data,
    sessionTokenHash: row.session_token_hash,
    revokedAt: row.revoked_at,
    revokedReason: row.revoked_reason,
  };
}

export function linkFromRow(row: LinkRow): LinkRecord {
  return {
    hash: row.hash,
    userId: row.user_id,
    issuedBySessionId: row.issued_by_session_id,
    data: row.data,
    redirectTo: row.redirect_to,
    confirm: row.confirm,
    provider: row.provider,
    deviceId: row.device_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
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
    detail: row.detail,
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
