/**
 * The socket protocol's frames (contract "Socket protocol"), shared by the WebSocket and
 * TCP gateways: `parseClientFrame` turns one text frame into a typed `ClientFrame` or
 * throws a `TesseraError` with code `invalid_request` saying precisely what is wrong, and
 * `serialiseFrame` writes a `ServerFrame`.
 *
 * Parsing never throws anything else, whatever the bytes (property-tested): a client's
 * mistake must end as a 4400 close or an `error` frame, never as a crashed connection.
 * Unknown fields are ignored so that clients may send fields a later version understands.
 * Error messages name fields, never their values: an `auth` frame carries a credential.
 */

import type { JsonValue, TokenPair } from "../../engine/types.js";
import { TesseraError } from "../../errors.js";

/** Longer than any token Tessera issues; a longer one is refused before it reaches the engine. */
const MAX_TOKEN_LENGTH = 8192;
/** Gate names and client message ids are labels, not payloads. */
export const MAX_LABEL_LENGTH = 128;

/** A client's message id: a string, or a number as JSON-RPC clients send it; echoed as sent. */
export type MessageId = string | number;

export type ClientFrame =
  | { readonly type: "auth"; readonly token: string }
  | { readonly type: "auth"; readonly refreshToken: string }
  /**
   * A fresh client logs in over the socket (seed 003): `provider` names the login provider
   * (`password`, or one a plugin added) and the frame's other fields are that provider's
   * input, checked by its schema as `POST /auth/login/:provider` checks a body.
   */
  | {
      readonly type: "auth";
      readonly provider: string;
      readonly fields: { readonly [key: string]: JsonValue };
    }
  | { readonly type: "refresh"; readonly refreshToken: string }
  | { readonly type: "ping" }
  | { readonly type: "message"; readonly gate: string; readonly id: MessageId; readonly data: JsonValue };

export type ServerFrame =
  | {
      readonly type: "ready";
      readonly sessionId: string;
      readonly userId: number;
      readonly expiresAt: string;
    }
  | ({ readonly type: "tokens" } & TokenPair)
  /**
   * The session is inside its renewal window but at its absolute cap (`maxExpiresAt`): no
   * further `tokens` frame will come, and the socket closes with `token_expired` at
   * `expiresAt`. Sent once; the client should log in again before then.
   */
  | { readonly type: "expiring"; readonly expiresAt: string }
  | { readonly type: "pong" }
  | { readonly type: "reply"; readonly id: MessageId; readonly data: JsonValue }
  | { readonly type: "error"; readonly code: string; readonly message: string; readonly id?: MessageId };

function malformed(message: string): TesseraError {
  return new TesseraError("invalid_request", `Malformed frame: ${message}.`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A credential field. An empty string is a well-formed frame carrying a token that is not
 * valid: the engine refuses it with `token_invalid` (4401), as it would any other bad token.
 */
function token(frame: Record<string, unknown>, field: "token" | "refreshToken"): string {
  const value = frame[field];
  if (typeof value !== "string") throw malformed(`"${field}" must be a string`);
  if (value.length > MAX_TOKEN_LENGTH) throw malformed(`"${field}" is too long`);
  return value;
}

/** Provider names are short labels (`engine/providers.ts`); the fields go to its schema. */
function providerLogin(frame: Record<string, unknown>): {
  provider: string;
  fields: { [key: string]: JsonValue };
} {
  const provider = frame.provider;
  if (typeof provider !== "string" || provider.length === 0 || provider.length > 40)
    throw malformed('"provider" must be a provider name');
  const fields: { [key: string]: JsonValue } = {};
  for (const [key, item] of Object.entries(frame)) {
    // JSON.parse only produces JSON values.
    if (key === "__proto__") throw malformed('a frame may not carry a "__proto__" field');
    if (key !== "type" && key !== "provider") fields[key] = item as JsonValue;
  }
  return { provider, fields };
}

function label(frame: Record<string, unknown>, field: "gate" | "id"): string {
  const value = frame[field];
  if (typeof value !== "string" || value.length === 0)
    throw malformed(`"${field}" must be a non-empty string`);
  if (value.length > MAX_LABEL_LENGTH) throw malformed(`"${field}" is longer than ${MAX_LABEL_LENGTH}`);
  return value;
}

function messageId(frame: Record<string, unknown>): MessageId {
  const value = frame.id;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw malformed('"id" must be a string or a whole number');
    return value;
  }
  return label(frame, "id");
}

/** Parses one frame's text. Throws only `TesseraError("invalid_request")`. */
export function parseClientFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed("not valid JSON");
  }
  if (!isRecord(value)) throw malformed("a frame must be a JSON object");
  const type = value.type;
  switch (type) {
    case "auth": {
      const kinds = [value.token, value.refreshToken, value.provider].filter((item) => item !== undefined);
      if (kinds.length !== 1)
        throw malformed('"auth" needs exactly one of "token", "refreshToken" or "provider"');
      if (value.provider !== undefined) return { type, ...providerLogin(value) };
      return value.token !== undefined
        ? { type, token: token(value, "token") }
        : { type, refreshToken: token(value, "refreshToken") };
    }
    case "refresh":
      return { type, refreshToken: token(value, "refreshToken") };
    case "ping":
      return { type };
    case "message":
      // JSON.parse only produces JSON values, so `data` needs no further check.
      return {
        type,
        gate: label(value, "gate"),
        id: messageId(value),
        data: (value.data ?? null) as JsonValue,
      };
    default:
      throw malformed(
        typeof type === "string"
          ? "unknown frame type"
          : '"type" must be one of auth, refresh, ping, message',
      );
  }
}

export function serialiseFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

/** The `error` frame for a `TesseraError` (its message is written for clients and never holds a secret). */
export function errorFrame(error: TesseraError, id?: MessageId): ServerFrame {
  return id === undefined
    ? { type: "error", code: error.code, message: error.message }
    : { type: "error", code: error.code, message: error.message, id };
}
