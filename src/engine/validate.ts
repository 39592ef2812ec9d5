/**
 * `validate(token)`: tells an access JWT from a session token by its form and returns the
 * session, or throws a `TesseraError` (`token_invalid`, `token_expired`, `token_revoked`,
 * `unavailable`).
 *
 * A session token costs a checksum, a SHA-256 and a map lookup while its session is
 * cached; a JWT costs a signature check the first time and a digest and map lookup after
 * (verified claims are cached until the token expires), plus the in-memory denylist.
 * Both paths consult the store only on a cache miss, and stop trusting the cache when the
 * store's event feed is not current (fail closed).
 */
import { TesseraError } from "../errors.js";
import type { AccessClaims } from "../tokens/jwt.js";
import {
  digestKey,
  digestKeyOf,
  digestToken,
  OPAQUE_PREFIXES,
  OPAQUE_TOKEN_LENGTH,
  opaqueKindOf,
  opaqueTokenProblem,
} from "../tokens/opaque.js";
import { looksLikeJwt, verifyAccessTokenSync } from "../tokens/verify-jwt.js";
import { cacheRecord, type EngineContext, fromStore, loadSession } from "./context.js";
import { checkLive, isIdle, touch } from "./idle.js";
import type { CacheEntry } from "./session-cache.js";
import { guardTokenUse } from "./token-throttle.js";
import type { ValidatedSession } from "./types.js";

/** Longer than any token Tessera issues with generous claims; refused before parsing. */
export const MAX_TOKEN_LENGTH = 8192;
export const JWT_CACHE_MAX = 10_000;
const SESSION_PREFIX = OPAQUE_PREFIXES.session;

/**
 * The hot path, answered from memory or not at all (null: ask `validate`). A session token
 * whose digest is cached (a digest match proves the token was issued, so its checksum is
 * right), or a JWT verified before whose session is cached — and only while the store's
 * event feed is current. Every refusal is left to the full path, which names its reason.
 */
export function validateSync(ctx: EngineContext, token: string): ValidatedSession | null {
  if (typeof token !== "string" || !ctx.store.events.isCurrent()) return null;
  if (isSessionTokenForm(token)) return sessionTokenHit(ctx, token)?.answerAs("session") ?? null;
  return jwtHit(ctx, token)?.answerAs("jwt") ?? null;
}

/**
 * `clientAddress` (where the token came from) feeds the token-guessing throttle: a cache
 * hit never looks at it; every other answer is refused while the address is throttled,
 * and a `token_invalid` counts against it.
 *
 * A cache hit returns the entry's settled promise (kept with its answer), so that it
 * allocates nothing and costs its caller one `await` of a settled promise.
 */
export function validate(
  ctx: EngineContext,
  token: string,
  clientAddress?: string | null,
): Promise<ValidatedSession> {
  if (typeof token === "string" && ctx.store.events.isCurrent()) {
    if (isSessionTokenForm(token)) {
      const entry = sessionTokenHit(ctx, token);
      if (entry !== undefined) return entry.settledAs("session");
    } else {
      const entry = jwtHit(ctx, token);
      if (entry !== undefined) return entry.settledAs("jwt");
    }
  }
  return guardTokenUse(ctx.tokenThrottle, clientAddress, ctx.now, () => validateUncached(ctx, token));
}

function isSessionTokenForm(token: string): boolean {
  return token.length === OPAQUE_TOKEN_LENGTH && token.startsWith(SESSION_PREFIX);
}

/** The cached, live session of a session token, touched; undefined when the full path must answer. */
function sessionTokenHit(ctx: EngineContext, token: string): CacheEntry | undefined {
  const now = ctx.now();
  const entry = ctx.cache.byTokenKey(digestKey(token), now);
  if (entry === undefined || !isLive(ctx, entry, now)) return undefined;
  touch(ctx, entry, now);
  return entry;
}

/** The same for a JWT verified before (its claims are cached). */
function jwtHit(ctx: EngineContext, token: string): CacheEntry | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const now = ctx.now();
  const claims = ctx.jwtCache.get(token);
  if (claims === undefined || claims.exp * 1000 + ctx.options.skewMs <= now) return undefined;
  if (ctx.denylist.denies(claims.jti, claims.sid, now)) return undefined;
  const entry = ctx.cache.bySessionId(claims.sid, now);
  if (entry === undefined || entry.user.uuid !== claims.sub || !isLive(ctx, entry, now)) return undefined;
  // An upgraded session's JWTs are spent (the full path says so).
  if (entry.tokenType === "session") return undefined;
  touch(ctx, entry, now);
  return entry;
}

/** A cached session that may be used at `now`; the full path says why when it may not. */
function isLive(ctx: EngineContext, entry: CacheEntry, now: number): boolean {
  return (
    !entry.revoked && entry.expiresAt > now && entry.maxExpiresAt > now && !isIdle(ctx, entry.touchedAt, now)
  );
}

async function validateUncached(ctx: EngineContext, token: string): Promise<ValidatedSession> {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new TesseraError("token_invalid", "Malformed token.");
  }
  const kind = opaqueKindOf(token);
  if (kind === "session") return validateSessionToken(ctx, token);
  if (kind !== null)
    throw new TesseraError("token_invalid", `A ${kind} token cannot be used as an access credential.`);
  if (looksLikeJwt(token)) return validateJwt(ctx, token);
  throw new TesseraError("token_invalid", "Malformed token.");
}

async function validateSessionToken(ctx: EngineContext, token: string): Promise<ValidatedSession> {
  const problem = opaqueTokenProblem(token, "session");
  if (problem !== null) throw new TesseraError("token_invalid", `Malformed session token (${problem}).`);
  const hash = digestToken(token);
  const now = ctx.now();
  const load = async (): Promise<CacheEntry> => {
    const since = ctx.cache.epoch;
    const record = await fromStore(ctx.store.findSessionByTokenHash(hash));
    if (record === null) throw new TesseraError("token_invalid", "Unknown session token.");
    const loaded = await cacheRecord(ctx, record, since);
    if (loaded === null)
      throw new TesseraError("token_revoked", "The session's user no longer exists or is disabled.");
    return loaded;
  };
  const cached = ctx.store.events.isCurrent() ? ctx.cache.byTokenKey(digestKeyOf(hash), now) : undefined;
  const entry = await checkLive(ctx, cached ?? (await load()), cached !== undefined, load, now);
  return entry.answerAs("session");
}

async function validateJwt(ctx: EngineContext, token: string): Promise<ValidatedSession> {
  const claims = await verifiedClaims(ctx, token);
  const now = ctx.now();
  if (ctx.denylist.denies(claims.jti, claims.sid, now)) {
    throw new TesseraError("token_revoked", "The access token has been revoked.");
  }
  const cached = ctx.store.events.isCurrent() ? ctx.cache.bySessionId(claims.sid, now) : undefined;
  const reload = async (): Promise<CacheEntry | null> => {
    const since = ctx.cache.epoch;
    const record = await fromStore(ctx.store.getSession(claims.sid));
    return record === null ? null : cacheRecord(ctx, record, since);
  };
  const found = cached ?? (await loadSession(ctx, claims.sid));
  if (found === null) throw new TesseraError("token_revoked", "The session has ended.");
  if (found.user.uuid !== claims.sub)
    throw new TesseraError("token_invalid", "The access token does not match its session.");
  // An upgraded session issues no more JWTs: every JWT of it is spent. This holds even when
  // the denylist entry of the upgrade has not reached this node (read-through without lease).
  if (found.tokenType === "session")
    throw new TesseraError("token_revoked", "The access token has been replaced by a session token.");
  const entry = await checkLive(ctx, found, cached !== undefined, reload, now);
  return entry.answerAs("jwt");
}

/** Verified claims of an access JWT, from the cache when this exact token was seen before. */
export async function verifiedClaims(ctx: EngineContext, token: string): Promise<AccessClaims> {
  const now = ctx.now();
  const cached = ctx.jwtCache.get(token);
  if (cached !== undefined) {
    if (cached.exp * 1000 + ctx.options.skewMs > now) return cached;
    ctx.jwtCache.delete(token);
    throw new TesseraError("token_expired", "The access token has expired.");
  }
  const options = {
    issuer: ctx.options.issuer,
    audience: ctx.options.audience,
    clockToleranceSeconds: ctx.options.skewMs / 1000,
    maxLifetimeSeconds: ctx.options.accessTtlMs / 1000,
    now,
  };
  let claims: AccessClaims;
  try {
    claims = verifyAccessTokenSync(token, (kid) => ctx.keys.verifierFor(kid, now), options);
  } catch (error) {
    // Another node may have rotated keys: reload once (rate-limited) and try again.
    if (!(error instanceof TesseraError && error.code === "token_invalid")) throw error;
    if (!(await fromStore(ctx.keys.reloadIfStale(now)))) throw error;
    claims = verifyAccessTokenSync(token, (kid) => ctx.keys.verifierFor(kid, now), options);
  }
  ctx.jwtCache.set(token, claims);
  return claims;
}
