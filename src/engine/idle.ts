/**
 * The idle rule: a session unused for `idleTimeoutMs` ends (`token_expired`), on every
 * surface and every node, without a store write per request.
 *
 * `lastSeenAt` is written at most once per `touchIntervalMs` per session and process
 * (coalesced: a use inside the interval writes nothing). So the stored value, or this
 * process's last write, may lag the real last use by up to one interval, and the rule must
 * not end a session because of a touch that was skipped: a session is idle only when
 * `now ≥ lastSeenAt + touchIntervalMs + idleTimeoutMs`. It therefore ends between the idle
 * timeout and the timeout plus one interval (a tenth of it, at most 60 s) after its last
 * use — never early. A process that finds a session idle in its cache asks the store
 * before refusing, since another node may have used it since.
 */
import { TesseraError } from "../errors.js";
import type { SessionRecord } from "../stores/session-store.js";
import { cacheRecord, type EngineContext, fromStore, sessionProblem } from "./context.js";
import type { CacheEntry } from "./session-cache.js";

/** When a session last seen at `lastSeenAt` becomes idle; Infinity when the rule is off. */
export function idleDeadline(ctx: EngineContext, lastSeenAt: number): number {
  const { idleTimeoutMs, touchIntervalMs } = ctx.options;
  return idleTimeoutMs === 0 ? Number.POSITIVE_INFINITY : lastSeenAt + touchIntervalMs + idleTimeoutMs;
}

export function isIdle(ctx: EngineContext, lastSeenAt: number, now: number): boolean {
  return now >= idleDeadline(ctx, lastSeenAt);
}

export function idleExpired(): TesseraError {
  return new TesseraError("token_expired", "The session has expired after a period without use.");
}

/**
 * Records a use: writes `lastSeenAt` when this process has not written it for an interval.
 * Best effort: a failed write is reported, and the rule's allowance covers the gap.
 */
export function touch(ctx: EngineContext, entry: CacheEntry, now: number): void {
  if (now - entry.touchedAt < ctx.options.touchIntervalMs) return;
  entry.touchedAt = now;
  ctx.store.touchSession(entry.id, now).catch((error: unknown) => ctx.reportError(error, "touch session"));
}

/**
 * A session a store call just returned (rotated, reissued), cached, after the idle rule.
 * With `use` (a refresh) it counts as a use — but nothing revives a session that was
 * already idle: it stays idle, so every later presentation of its tokens is refused too.
 */
export async function liveEntry(
  ctx: EngineContext,
  record: SessionRecord,
  options: { readonly use: boolean; readonly since: number },
): Promise<CacheEntry> {
  const now = ctx.now();
  // This process may have written a later `lastSeenAt` than the record it got back.
  const touchedAt = ctx.cache.bySessionId(record.id, now)?.touchedAt ?? record.lastSeenAt;
  const entry = await cacheRecord(ctx, record, options.since);
  if (entry === null)
    throw new TesseraError("token_revoked", "The session's user no longer exists or is disabled.");
  entry.touchedAt = Math.max(entry.touchedAt, touchedAt);
  const problem = sessionProblem(record, false, now);
  if (problem !== null) throw problem;
  if (isIdle(ctx, entry.touchedAt, now)) throw idleExpired();
  if (options.use) touch(ctx, entry, now);
  return entry;
}

/**
 * Refuses an ended session (revoked, expired, idle) and records the use. A cached entry
 * that looks idle is reloaded first: another process may have used the session since this
 * one cached it.
 */
export async function checkLive(
  ctx: EngineContext,
  first: CacheEntry,
  fromCache: boolean,
  reload: () => Promise<CacheEntry | null>,
  now: number,
  options: { readonly use: boolean } = { use: true },
): Promise<CacheEntry> {
  let entry = first;
  let failure = sessionProblem(entry, entry.revoked, now);
  if (failure === null && fromCache && isIdle(ctx, entry.touchedAt, now)) {
    const fresh = await reload();
    if (fresh === null) throw new TesseraError("token_revoked", "The session has ended.");
    entry = fresh;
    failure = sessionProblem(entry, entry.revoked, now);
  }
  if (failure !== null) throw failure;
  if (isIdle(ctx, entry.touchedAt, now)) throw idleExpired();
  if (options.use) touch(ctx, entry, now);
  return entry;
}

/**
 * A live session by id, or the error its tokens would get now; with `use`, a use of it
 * (a socket frame), recorded like a validation's.
 */
export async function checkSession(
  ctx: EngineContext,
  sessionId: string,
  options: { readonly use: boolean },
): Promise<CacheEntry> {
  const now = ctx.now();
  const reload = async (): Promise<CacheEntry | null> => {
    const since = ctx.cache.epoch;
    const record = await fromStore(ctx.store.getSession(sessionId));
    return record === null ? null : cacheRecord(ctx, record, since);
  };
  const cached = ctx.store.events.isCurrent() ? ctx.cache.bySessionId(sessionId, now) : undefined;
  const found = cached ?? (await reload());
  if (found === null) throw new TesseraError("token_revoked", "The session has ended.");
  return checkLive(ctx, found, cached !== undefined, reload, now, options);
}
