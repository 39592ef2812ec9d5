/**
 * What a handler needs from a call besides its message: the bearer token from the
 * `authorization` metadata, and where the call came from (user agent, peer address) for
 * the session's metadata. Never logs or echoes a token.
 */
import type { Metadata } from "@grpc/grpc-js";
import type { RequestMetadata } from "../../engine/types.js";
import { TesseraError } from "../../errors.js";

const BEARER = /^Bearer +(\S+)$/i;
/** Longer than any user agent worth keeping; the rest is dropped rather than stored. */
const MAX_USER_AGENT_LENGTH = 512;

function first(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * The token of `authorization: Bearer <token>`. Missing or not of that form is
 * `token_invalid` (UNAUTHENTICATED), as on HTTP.
 */
export function bearerToken(metadata: Metadata): string {
  const authorization = first(metadata, "authorization");
  if (authorization === undefined) {
    throw new TesseraError(
      "token_invalid",
      "Authentication required: send `authorization: Bearer <token>` metadata.",
    );
  }
  const match = BEARER.exec(authorization.trim());
  if (match?.[1] === undefined) {
    throw new TesseraError("token_invalid", "The authorization metadata must be `Bearer <token>`.");
  }
  return match[1];
}

/**
 * The address part of grpc-js's `getPeer()`: `127.0.0.1:5000` → `127.0.0.1`,
 * `[::1]:5000` → `::1`, `ipv4:10.0.0.1:5000` → `10.0.0.1`; null for anything else (a
 * unix socket, "unknown").
 */
export function peerAddress(peer: string): string | null {
  const rest = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(rest);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(rest);
  if (v4?.[1] !== undefined) return v4[1];
  return null;
}

/**
 * Where a call came from, for the engine's token-guessing throttle: read only when the
 * engine asks (a cached session token never does), so the hot path parses no peer string.
 */
export function peerMetadata(call: { getPeer(): string }): RequestMetadata {
  return {
    surface: "grpc",
    get ipAddress() {
      return peerAddress(call.getPeer());
    },
  };
}

/** The session metadata of a call: its `user-agent` and the peer's address. */
export function requestMetadata(call: { readonly metadata: Metadata; getPeer(): string }): RequestMetadata {
  const userAgent = first(call.metadata, "user-agent");
  return {
    userAgent: userAgent === undefined ? null : userAgent.slice(0, MAX_USER_AGENT_LENGTH),
    ipAddress: peerAddress(call.getPeer()),
    surface: "grpc",
  };
}
