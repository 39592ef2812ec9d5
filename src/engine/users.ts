/**
 * An operator's account lifecycle (OWASP ASVS 5.0 V7.4.2: disabling an account ends its
 * sessions): disable, enable and delete a user. Disabling and deleting end every session of
 * the user in the same atomic store step that changes the account, so no login racing the
 * change keeps a session; the store's events close their sockets on every node. A disabled
 * user's logins get `invalid_credentials` on every surface (the same answer as a wrong
 * password: the state of an account is not told to whoever knows its name), and a session
 * that slipped through a race is refused because its user is disabled (`cacheRecord`).
 */
import { TesseraError } from "../errors.js";
import type { SessionRecord } from "../stores/session-store.js";
import { type EngineContext, fromStore, recordRevocations } from "./context.js";

/** Disables the user and ends their sessions; returns how many ended. `not_found` for an unknown user. */
export async function disableUser(ctx: EngineContext, userId: number): Promise<number> {
  const { now, denyUntil } = times(ctx);
  const revoked = await fromStore(ctx.store.disableUser(userId, now, denyUntil));
  if (revoked === null) throw noSuchUser();
  ctx.security.record({ kind: "user_disabled", userId, detail: { sessionsEnded: revoked.length } });
  return ended(ctx, userId, revoked, "user_disabled");
}

/** Lets a disabled user log in again (their ended sessions stay ended). `not_found` for an unknown user. */
export async function enableUser(ctx: EngineContext, userId: number): Promise<void> {
  if (!(await fromStore(ctx.store.enableUser(userId)))) throw noSuchUser();
  ctx.cache.evictUser(userId);
}

/**
 * Deletes the user and what they stored (session data, links, counters); their sessions
 * end and stay as tombstones that answer `token_revoked`; the username becomes free.
 * Returns how many sessions ended. `not_found` for an unknown user.
 */
export async function deleteUser(ctx: EngineContext, userId: number): Promise<number> {
  const { now, denyUntil } = times(ctx);
  // Read first: the audit trail names whom it deleted, and the record is gone after.
  const user = await fromStore(ctx.store.findUserById(userId));
  const revoked = await fromStore(ctx.store.deleteUser(userId, now, denyUntil));
  if (revoked === null) throw noSuchUser();
  ctx.security.record({
    kind: "user_deleted",
    userId,
    usernameKey: user?.usernameKey ?? null,
    detail: { sessionsEnded: revoked.length },
  });
  return ended(ctx, userId, revoked, "user_deleted");
}

function times(ctx: EngineContext): { now: number; denyUntil: number } {
  const now = ctx.now();
  return { now, denyUntil: now + ctx.options.accessTtlMs + ctx.options.skewMs };
}

/** This process's caches at once (the store's events tell every node), then the `revoke` hook. */
async function ended(
  ctx: EngineContext,
  userId: number,
  revoked: readonly SessionRecord[],
  reason: string,
): Promise<number> {
  const denyUntil = times(ctx).denyUntil;
  for (const record of revoked) {
    ctx.cache.markRevoked(record.id);
    ctx.denylist.add({ id: `sid:${record.id}`, expiresAt: denyUntil });
  }
  ctx.cache.evictUser(userId);
  recordRevocations(ctx, revoked, reason);
  if (revoked.length > 0 && ctx.hooks.has("revoke")) {
    await ctx.hooks
      .run("revoke", { sessionIds: revoked.map((record) => record.id), reason })
      .catch((error: unknown) => ctx.reportError(error, "revoke hook"));
  }
  return revoked.length;
}

function noSuchUser(): TesseraError {
  return new TesseraError("not_found", "No such user.");
}
