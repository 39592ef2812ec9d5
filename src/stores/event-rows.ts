/**
 * How the SQLite and PostgreSQL stores keep a `StoreEvent` in their events tables: the kind
 * in a column of its own, the rest as JSON. Reading checks every field, and answers null
 * for a payload it does not understand (an event kind written by a newer Tessera sharing
 * the database) rather than failing the follower's read.
 */
import type { StoreEvent } from "./session-store.js";

/** The kind, and the rest of the event as JSON text. */
export function eventToRow(event: StoreEvent): { kind: string; payload: string } {
  const { kind, ...payload } = event;
  return { kind, payload: JSON.stringify(payload) };
}

/** The event of `kind` whose fields are `payload` (already parsed), or null. */
export function eventFromPayload(kind: string, payload: unknown): StoreEvent | null {
  if (typeof payload !== "object" || payload === null) return null;
  const p = payload as Record<string, unknown>;
  switch (kind) {
    case "session_revoked":
      return typeof p.sessionId === "string" && typeof p.userId === "number" && typeof p.reason === "string"
        ? { kind: "session_revoked", sessionId: p.sessionId, userId: p.userId, reason: p.reason }
        : null;
    case "session_updated":
      return typeof p.sessionId === "string" ? { kind: "session_updated", sessionId: p.sessionId } : null;
    case "denied": {
      const entry = p.entry;
      if (typeof entry !== "object" || entry === null) return null;
      const e = entry as Record<string, unknown>;
      return typeof e.id === "string" && typeof e.expiresAt === "number"
        ? { kind: "denied", entry: { id: e.id, expiresAt: e.expiresAt } }
        : null;
    }
    case "user_sessions_revoked":
      return typeof p.userId === "number" &&
        typeof p.reason === "string" &&
        (typeof p.keepSessionId === "string" || p.keepSessionId === null)
        ? {
            kind: "user_sessions_revoked",
            userId: p.userId,
            reason: p.reason,
            keepSessionId: p.keepSessionId,
          }
        : null;
    case "user_updated":
      return typeof p.userId === "number" ? { kind: "user_updated", userId: p.userId } : null;
    case "keys_changed":
      return { kind: "keys_changed" };
    case "reset":
      return { kind: "reset" };
    default:
      return null;
  }
}
