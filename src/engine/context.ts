/**
 * What every flow shares: the store, keys, caches, hooks and clock, plus the few helpers
 * more than one flow needs (store access that fails closed, loading a session through the
 * cache, revoking, issuing a token pair). Flows are plain functions of this context.
 */
import { TesseraError } from "../errors.js";
import type { PasswordHasher } from "../passwords/password-hasher.js";
import type { JsonValue, SessionRecord, SessionStore, UserRecord } from "../stores/session-store.js";
import { signAccessToken } from "../tokens/jwt.js";
import type { Denylist } from "./denylist.js";
import type { Hooks } from "./hooks.js";
import type { JwtCache } from "./jwt-cache.js";
import type { KeyRing } from "./key-ring.js";
import type { ResolvedOptions } from "./options.js";
import type { ProviderRegistry } from "./providers.js";
import type { SecurityLog } from "./security-log.js";
import type { CacheEntry, SessionCache } from "./session-cache.js";
import type { LoginThrottle } from "./throttle.js";
import type { TokenThrottle } from "./token-throttle.js";
import type { PublicUser, RequestMetadata, TokenPair } from "./types.js";

/** Told to surfaces (sockets close on it); comes from this process or, via the store, from others. */
export type EngineEvent =
  | {
      readonly type: "session_ended";
      readonly sessionId: string;
      readonly userId: number;
      readonly reason: string;
    }
  /** Every session of the user ended but `keepSessionId` (logout-all, password change, disabled user). */
  | {
      readonly type: "user_sessions_ended";
      readonly userId: number;
      readonly reason: string;
      readonly keepSessionId: string | null;
    }
  | { readonly type: "session_updated"; readonly sessionId: string }
  /** The user's record changed (disabled, deleted, new password). */
  | { readonly type: "user_updated"; readonly userId: number }
  /** The store's feed may have missed events: whatever a surface holds should be checked again. */
  | { readonly type: "reset" };

export interface EngineContext {
  readonly store: SessionStore;
  readonly options: ResolvedOptions;
  readonly keys: KeyRing;
  readonly hasher: PasswordHasher;
  readonly hooks: Hooks;
  readonly providers: ProviderRegistry;
  /** Null when login throttling is turned off. */
  readonly throttle: LoginThrottle | null;
  /** Token-guessing throttle per client address; null when turned off. */
  readonly tokenThrottle: TokenThrottle | null;
  readonly cache: SessionCache;
  readonly denylist: Denylist;
  /** Verified JWT claims, until the token expires. */
  readonly jwtCache: JwtCache;
  /** Where flows record security events (in the background; it never throws). */
  readonly security: SecurityLog;
  readonly now: () => number;
  readonly reportError: (error: unknown, context: string) => void;
}

/**
 * Awaits a store call; a store failure becomes `unavailable` (fail closed) while a
 * `TesseraError` passes through.
 */
export async function fromStore<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof TesseraError) throw error;
    throw new TesseraError("unavailable", "The session store is unavailable; try again shortly.", {
      cause: error,
    });
  }
}

export function publicUser(user: UserRecord): PublicUser {
  return { id: user.id, uuid: user.uuid, username: user.username };
}

export function metadataOf(metadata: RequestMetadata | undefined): {
  userAgent: string | null;
  ipAddress: string | null;
} {
  return {
    userAgent: clip(metadata?.userAgent ?? null, 512),
    ipAddress: clip(metadata?.ipAddress ?? null, 64),
  };
}

function clip(value: string | null, max: number): string | null {
  return value === null ? null : value.slice(0, max);
}

/** Refuses session data over the configured cap, measured as UTF-8 JSON. */
export function checkDataSize(ctx: EngineContext, data: JsonValue): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch {
    throw new TesseraError("invalid_request", "Session data must be JSON.");
  }
  if (json === undefined) throw new TesseraError("invalid_request", "Session data must be JSON.");
  if (Buffer.byteLength(json) > ctx.options.maxDataBytes) {
    throw new TesseraError(
      "payload_too_large",
      `Session data is larger than the ${ctx.options.maxDataBytes}-byte limit.`,
    );
  }
}

/** A session and its user, from the cache or else the store (then cached). Null if unknown, or its user is gone or disabled. */
export async function loadSession(ctx: EngineContext, sessionId: string): Promise<CacheEntry | null> {
  const now = ctx.now();
  if (ctx.store.events.isCurrent()) {
    const cached = ctx.cache.bySessionId(sessionId, now);
    if (cached !== undefined) return cached;
  }
  const since = ctx.cache.epoch;
  const record = await fromStore(ctx.store.getSession(sessionId));
  return record === null ? null : cacheRecord(ctx, record, since);
}

/**
 * Caches a record the store returned, with its user. `since` is `ctx.cache.epoch` taken
 * before the store call: an invalidation that arrived meanwhile keeps it out of the cache.
 */
export async function cacheRecord(
  ctx: EngineContext,
  record: SessionRecord,
  since: number,
): Promise<CacheEntry | null> {
  const user = await fromStore(ctx.store.findUserById(record.userId));
  // Disabling ends the user's sessions atomically; this also refuses one that a login racing
  // the disable created just after it.
  if (user === null || user.disabledAt !== null) return null;
  return ctx.cache.put(record, publicUser(user), ctx.now(), since);
}

/** A session's ends, as a record or a cache entry has them (an entry says `revoked` instead). */
export interface SessionEnds {
  readonly expiresAt: number;
  readonly maxExpiresAt: number;
  readonly revokedAt?: number | null;
}

/** Why a session can no longer be used, or null when it is live. */
export function sessionProblem(record: SessionEnds, revoked: boolean, now: number): TesseraError | null {
  if (revoked || (record.revokedAt ?? null) !== null)
    return new TesseraError("token_revoked", "The session has ended.");
  if (record.expiresAt <= now) return new TesseraError("token_expired", "The session has expired.");
  // Stores clamp `expiresAt` to the cap; this holds even for a row that escaped the clamp.
  if (record.maxExpiresAt <= now)
    return new TesseraError("token_expired", "The session has reached its absolute lifetime.");
  return null;
}

/**
 * Revokes sessions: store first (so every node hears of it), then this process's caches
 * at once, then the `revoke` hook (whose errors are reported, not thrown).
 */
export async function revokeSessions(
  ctx: EngineContext,
  sessionIds: readonly string[],
  reason: string,
  metadata?: RequestMetadata,
): Promise<SessionRecord[]> {
  if (sessionIds.length === 0) return [];
  const now = ctx.now();
  const denyUntil = now + ctx.options.accessTtlMs + ctx.options.skewMs;
  const revoked = await fromStore(ctx.store.revokeSessions(sessionIds, reason, now, denyUntil));
  for (const record of revoked) {
    ctx.cache.markRevoked(record.id);
    ctx.denylist.add({ id: `sid:${record.id}`, expiresAt: denyUntil });
  }
  recordRevocations(ctx, revoked, reason, metadata);
  if (revoked.length > 0 && ctx.hooks.has("revoke")) {
    await ctx.hooks
      .run("revoke", { sessionIds: revoked.map((record) => record.id), reason })
      .catch((error: unknown) => ctx.reportError(error, "revoke hook"));
  }
  return revoked;
}

/**
 * Ends every live session of the user but `keepSessionId`, atomically in the store (a login
 * racing it is either ended by it or starts after it), then this process's caches, then the
 * `revoke` hook. Returns the sessions it ended.
 */
export async function revokeUserSessions(
  ctx: EngineContext,
  userId: number,
  reason: string,
  keepSessionId: string | null = null,
  metadata?: RequestMetadata,
): Promise<SessionRecord[]> {
  const now = ctx.now();
  const denyUntil = now + ctx.options.accessTtlMs + ctx.options.skewMs;
  const revoked = await fromStore(
    ctx.store.revokeUserSessions({ userId, reason, now, denyUntil, keepSessionId }),
  );
  for (const record of revoked) {
    ctx.cache.markRevoked(record.id);
    ctx.denylist.add({ id: `sid:${record.id}`, expiresAt: denyUntil });
  }
  recordRevocations(ctx, revoked, reason, metadata);
  if (revoked.length > 0 && ctx.hooks.has("revoke")) {
    await ctx.hooks
      .run("revoke", { sessionIds: revoked.map((record) => record.id), reason })
      .catch((error: unknown) => ctx.reportError(error, "revoke hook"));
  }
  return revoked;
}

/**
 * One `session_revoked` event per session that ended, with why; every revocation in the
 * engine passes here or through a store call whose result comes here (`disableUser`).
 */
export function recordRevocations(
  ctx: EngineContext,
  revoked: readonly Pick<SessionRecord, "id" | "userId">[],
  reason: string,
  metadata?: RequestMetadata,
): void {
  for (const record of revoked) {
    ctx.security.record({
      kind: "session_revoked",
      userId: record.userId,
      sessionId: record.id,
      metadata,
      detail: { reason },
    });
  }
}

/**
 * Fixes the claims that would otherwise differ between two signings of one session's access
 * JWT, so that a refresh replayed inside the grace window re-creates the same token.
 */
export interface AccessIssue {
  readonly jti: string;
  /** Milliseconds since the epoch: the JWT's `iat`, and where its lifetime counts from. */
  readonly issuedAt: number;
}

/**
 * The token pair for a session: its session token when upgraded, else a fresh access JWT
 * (`sessionToken` is ignored for `jwt` sessions), signed now with a new `jti` unless
 * `access` fixes both.
 */
export async function tokenPair(
  ctx: EngineContext,
  record: SessionRecord,
  user: PublicUser,
  refreshToken: string,
  sessionToken: string | null,
  access?: AccessIssue,
): Promise<TokenPair> {
  let accessToken: string;
  let accessExpiresAt: number;
  if (record.tokenType === "session") {
    if (sessionToken === null)
      throw new TesseraError("internal_error", "An upgraded session needs its session token.");
    accessToken = sessionToken;
    accessExpiresAt = record.expiresAt;
  } else {
    const now = access?.issuedAt ?? ctx.now();
    const signed = await signAccessToken(ctx.keys.active(), {
      issuer: ctx.options.issuer,
      audience: ctx.options.audience,
      userUuid: user.uuid,
      username: user.username,
      sessionId: record.id,
      now,
      // An access token never outlives its session.
      ttlSeconds: Math.max(1, Math.floor(Math.min(ctx.options.accessTtlMs, record.expiresAt - now) / 1000)),
      metadata: ctx.options.jwtMetadata ? record.metadata : null,
      ...(access === undefined ? {} : { jti: access.jti }),
    });
    accessToken = signed.token;
    accessExpiresAt = signed.claims.exp * 1000;
  }
  return {
    accessToken,
    refreshToken,
    accessExpiration: new Date(accessExpiresAt).toISOString(),
    refreshExpiration: new Date(record.expiresAt).toISOString(),
    tokenType: record.tokenType,
    sessionId: record.id,
    user,
  };
}
