/**
 * Records as Redis hashes and back. A field that is null is absent from the hash; JSON
 * values (`data`, `metadata`, `authMethods`) are stored as JSON text that Lua never decodes
 * (its cjson would round numbers and lose the difference between `[]` and `{}`).
 */

import type {
  JsonValue,
  LinkRecord,
  SessionRecord,
  SigningKeyRecord,
  StoreEvent,
  UserRecord,
  WebhookDelivery,
} from "../session-store.js";
import type { Reply } from "./redis-connection.js";

export type Fields = Map<string, string>;

/** Field/value pairs from a flat array (a Lua reply) or an object (node-redis's HGETALL). */
export function fieldsOf(reply: Reply): Fields {
  const map: Fields = new Map();
  if (reply === null || typeof reply !== "object") return map;
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), String(reply[i + 1]));
    return map;
  }
  for (const [key, value] of Object.entries(reply)) map.set(key, String(value));
  return map;
}

/** A flat field list for HSET, leaving out nulls. */
export function toFields(values: Record<string, string | number | boolean | null>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === null) continue;
    out.push(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  return out;
}

function text(fields: Fields, name: string): string {
  const value = fields.get(name);
  if (value === undefined) throw new Error(`Redis record without ${name}`);
  return value;
}
const optionalText = (fields: Fields, name: string): string | null => fields.get(name) ?? null;
const number = (fields: Fields, name: string): number => Number(text(fields, name));
function optionalNumber(fields: Fields, name: string): number | null {
  const value = fields.get(name);
  return value === undefined ? null : Number(value);
}

export function sessionFields(session: Omit<SessionRecord, "revokedAt" | "revokedReason">): string[] {
  return toFields({
    id: session.id,
    userId: session.userId,
    deviceId: session.deviceId,
    deviceName: session.deviceName,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    expiresAt: Math.min(session.expiresAt, session.maxExpiresAt),
    maxExpiresAt: session.maxExpiresAt,
    authenticatedAt: session.authenticatedAt,
    authMethods: JSON.stringify(session.authMethods),
    tokenType: session.tokenType,
    metadata: JSON.stringify(session.metadata),
    data: JSON.stringify(session.data),
    sessionTokenHash: session.sessionTokenHash,
  });
}

export function sessionFrom(fields: Fields): SessionRecord {
  return {
    id: text(fields, "id"),
    userId: number(fields, "userId"),
    deviceId: optionalText(fields, "deviceId"),
    deviceName: optionalText(fields, "deviceName"),
    createdAt: number(fields, "createdAt"),
    lastSeenAt: number(fields, "lastSeenAt"),
    expiresAt: number(fields, "expiresAt"),
    maxExpiresAt: number(fields, "maxExpiresAt"),
    authenticatedAt: number(fields, "authenticatedAt"),
    authMethods: JSON.parse(text(fields, "authMethods")) as string[],
    tokenType: text(fields, "tokenType") === "session" ? "session" : "jwt",
    metadata: JSON.parse(text(fields, "metadata")) as SessionRecord["metadata"],
    data: JSON.parse(text(fields, "data")) as JsonValue,
    sessionTokenHash: optionalText(fields, "sessionTokenHash"),
    revokedAt: optionalNumber(fields, "revokedAt"),
    revokedReason: optionalText(fields, "revokedReason"),
  };
}

export function userFrom(fields: Fields): UserRecord {
  return {
    id: number(fields, "id"),
    uuid: text(fields, "uuid"),
    username: text(fields, "username"),
    usernameKey: text(fields, "usernameKey"),
    passwordHash: optionalText(fields, "passwordHash"),
    createdAt: number(fields, "createdAt"),
    disabledAt: optionalNumber(fields, "disabledAt"),
  };
}

export function linkFields(link: Omit<LinkRecord, "consumedAt">): string[] {
  return toFields({
    hash: link.hash,
    userId: link.userId,
    issuedBySessionId: link.issuedBySessionId,
    data: JSON.stringify(link.data),
    redirectTo: link.redirectTo,
    confirm: link.confirm,
    provider: link.provider,
    deviceId: link.deviceId,
    createdAt: link.createdAt,
    expiresAt: link.expiresAt,
  });
}

export function linkFrom(fields: Fields): LinkRecord {
  return {
    hash: text(fields, "hash"),
    userId: number(fields, "userId"),
    issuedBySessionId: optionalText(fields, "issuedBySessionId"),
    data: JSON.parse(text(fields, "data")) as JsonValue,
    redirectTo: optionalText(fields, "redirectTo"),
    confirm: text(fields, "confirm") === "1",
    provider: optionalText(fields, "provider"),
    deviceId: optionalText(fields, "deviceId"),
    createdAt: number(fields, "createdAt"),
    expiresAt: number(fields, "expiresAt"),
    consumedAt: optionalNumber(fields, "consumedAt"),
  };
}

export function signingKeyFields(key: SigningKeyRecord): string[] {
  return toFields({ ...key });
}

export function signingKeyFrom(fields: Fields): SigningKeyRecord {
  return {
    kid: text(fields, "kid"),
    alg: text(fields, "alg"),
    privateJwk: text(fields, "privateJwk"),
    publicJwk: optionalText(fields, "publicJwk"),
    createdAt: number(fields, "createdAt"),
    retiredAt: optionalNumber(fields, "retiredAt"),
  };
}

export function webhookFrom(fields: Fields): WebhookDelivery {
  return {
    id: text(fields, "id"),
    eventId: text(fields, "eventId"),
    endpoint: text(fields, "endpoint"),
    payload: text(fields, "payload"),
    attempts: number(fields, "attempts"),
    nextAttemptAt: number(fields, "nextAttemptAt"),
    createdAt: number(fields, "createdAt"),
  };
}

/** An event as the fields of a log entry (the inverse of `eventFromFields`). */
export function eventFields(event: StoreEvent): string[] {
  switch (event.kind) {
    case "session_revoked":
      return ["k", event.kind, "s", event.sessionId, "u", String(event.userId), "r", event.reason];
    case "session_updated":
      return ["k", event.kind, "s", event.sessionId];
    case "user_sessions_revoked":
      return [
        "k",
        event.kind,
        "u",
        String(event.userId),
        "r",
        event.reason,
        "keep",
        event.keepSessionId ?? "",
      ];
    case "user_updated":
      return ["k", event.kind, "u", String(event.userId)];
    case "denied":
      return ["k", event.kind, "i", event.entry.id, "e", String(event.entry.expiresAt)];
    case "keys_changed":
    case "reset":
      return ["k", event.kind];
  }
}

/** An event from the fields of a log entry; null for a kind this version does not know. */
export function eventFromFields(fields: Fields): StoreEvent | null {
  const get = (name: string): string => fields.get(name) ?? "";
  switch (get("k")) {
    case "session_revoked":
      return { kind: "session_revoked", sessionId: get("s"), userId: Number(get("u")), reason: get("r") };
    case "session_updated":
      return { kind: "session_updated", sessionId: get("s") };
    case "user_sessions_revoked":
      return {
        kind: "user_sessions_revoked",
        userId: Number(get("u")),
        reason: get("r"),
        keepSessionId: get("keep") === "" ? null : get("keep"),
      };
    case "user_updated":
      return { kind: "user_updated", userId: Number(get("u")) };
    case "denied":
      return { kind: "denied", entry: { id: get("i"), expiresAt: Number(get("e")) } };
    case "keys_changed":
      return { kind: "keys_changed" };
    default:
      return null;
  }
}
