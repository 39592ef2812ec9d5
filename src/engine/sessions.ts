/**
 * Managing sessions once they exist: logout, logout-all, listing, revoking one by id, and
 * replacing a session's `data`. Revocation is instant for session tokens (cache tombstone)
 * and for access JWTs (the `sid` denylist), here and, through store events, on every node.
 */
import { TesseraError } from "../errors.js";
import type { JsonValue } from "../stores/session-store.js";
import {
  checkDataSize,
  type EngineContext,
  fromStore,
  revokeSessions,
  revokeUserSessions,
} from "./context.js";
import { toPublicSession } from "./session-cache.js";
import type { RequestMetadata, Session } from "./types.js";

export async function logout(
  ctx: EngineContext,
  sessionId: string,
  metadata?: RequestMetadata,
): Promise<void> {
  await revokeSessions(ctx, [sessionId], "logout", metadata);
}

/**
 * Ends every live session of the user, in one atomic store step (a login running at the same
 * time is either ended or starts after it, never missed), but `keepSessionId` when given.
 * Returns how many ended.
 */
export async function logoutAll(
  ctx: EngineContext,
  userId: number,
  options: { readonly keepSessionId?: string | null; readonly metadata?: RequestMetadata } = {},
): Promise<number> {
  const revoked = await revokeUserSessions(
    ctx,
    userId,
    "logout_all",
    options.keepSessionId ?? null,
    options.metadata,
  );
  return revoked.length;
}

export async function listSessions(ctx: EngineContext, userId: number): Promise<Session[]> {
  const sessions = await fromStore(ctx.store.listSessions(userId, ctx.now()));
  return sessions.map(toPublicSession);
}

/**
 * Revokes one session. With `ownerId`, a session of another user is `not_found` (never
 * `forbidden`: that would confirm the id exists).
 */
export async function revokeSession(
  ctx: EngineContext,
  sessionId: string,
  options: { readonly ownerId?: number; readonly reason?: string; readonly metadata?: RequestMetadata } = {},
): Promise<void> {
  const record = await fromStore(ctx.store.getSession(sessionId));
  if (record === null || (options.ownerId !== undefined && record.userId !== options.ownerId)) {
    throw new TesseraError("not_found", "No such session.");
  }
  await revokeSessions(ctx, [sessionId], options.reason ?? "revoked", options.metadata);
}

export async function getSession(ctx: EngineContext, sessionId: string): Promise<Session | null> {
  const record = await fromStore(ctx.store.getSession(sessionId));
  return record === null ? null : toPublicSession(record);
}

export async function setSessionData(
  ctx: EngineContext,
  sessionId: string,
  data: JsonValue,
): Promise<Session> {
  checkDataSize(ctx, data);
  const record = await fromStore(ctx.store.updateSessionData(sessionId, data, ctx.now()));
  if (record === null) throw new TesseraError("token_revoked", "The session has ended.");
  ctx.cache.evict(sessionId);
  return toPublicSession(record);
}
