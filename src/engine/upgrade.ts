/**
 * The upgrade (seed 000): a valid access JWT becomes a session token and a new refresh
 * token for the same session. The JWT's `jti` is consumed atomically in the store, so it
 * is refused everywhere from then on (`token_revoked`) and a second upgrade of it fails,
 * however many race. The session's earlier refresh tokens are superseded.
 */
import { TesseraError, toTesseraError } from "../errors.js";
import type { AccessClaims } from "../tokens/jwt.js";
import { digestToken, generateOpaqueToken } from "../tokens/opaque.js";
import { looksLikeJwt } from "../tokens/verify-jwt.js";
import {
  cacheRecord,
  checkDataSize,
  type EngineContext,
  fromStore,
  metadataOf,
  revokeSessions,
  tokenPair,
} from "./context.js";
import type { UpgradeRequest } from "./hooks.js";
import type { RequestMetadata, TokenPair } from "./types.js";
import { validate, verifiedClaims } from "./validate.js";

/**
 * Upgrades `accessToken`. Any refusal or failure runs the `upgradeFailed` hook (reported,
 * never thrown) before it reaches the caller.
 */
export async function upgrade(
  ctx: EngineContext,
  accessToken: string,
  metadata: RequestMetadata = {},
): Promise<TokenPair> {
  const attempt: Attempt = { request: { metadata: metadataOf(metadata) }, claims: null };
  try {
    const pair = await upgradeOnce(ctx, accessToken, attempt);
    ctx.security.record({
      kind: "session_upgraded",
      userId: pair.user.id,
      sessionId: pair.sessionId,
      metadata,
    });
    return pair;
  } catch (error) {
    if (ctx.hooks.has("upgradeFailed")) {
      await ctx.hooks
        .run("upgradeFailed", {
          error: toTesseraError(error),
          claims: attempt.claims,
          request: attempt.request,
        })
        .catch((cause: unknown) => ctx.reportError(cause, "upgradeFailed hook"));
    }
    throw error;
  }
}

/** What the failure hook is told: the request as the hooks left it, the claims once verified. */
interface Attempt {
  request: UpgradeRequest;
  claims: AccessClaims | null;
}

async function upgradeOnce(ctx: EngineContext, accessToken: string, attempt: Attempt): Promise<TokenPair> {
  if (typeof accessToken !== "string" || !looksLikeJwt(accessToken)) {
    throw new TesseraError("token_invalid", "Only an access JWT can be upgraded.");
  }
  const { session, user } = await validate(ctx, accessToken);
  const claims = await verifiedClaims(ctx, accessToken);
  attempt.claims = claims;
  // The hook's request is the one used: its metadata is stored on the upgraded session.
  const request =
    (await ctx.hooks.run("beforeUpgrade", { claims, request: attempt.request })) ?? attempt.request;
  attempt.request = request;

  const now = ctx.now();
  const sessionToken = generateOpaqueToken("session");
  const refreshToken = generateOpaqueToken("refresh");
  const expiresAt = Date.parse(session.expiresAt);
  const jtiExpiresAt = claims.exp * 1000 + ctx.options.skewMs;
  const since = ctx.cache.epoch;
  const outcome = await fromStore(
    ctx.store.upgradeSession({
      sessionId: session.id,
      jti: claims.jti,
      jtiExpiresAt,
      sessionTokenHash: digestToken(sessionToken),
      refreshToken: { hash: digestToken(refreshToken), sessionId: session.id, createdAt: now, expiresAt },
      now,
      metadata: upgradedMetadata(request.metadata, session.metadata),
    }),
  );
  switch (outcome.kind) {
    case "upgraded":
      break;
    case "jti_used":
      throw new TesseraError("token_revoked", "This access token has already been upgraded.");
    case "already_upgraded":
      throw new TesseraError("token_revoked", "This session has already been upgraded.");
    case "not_live":
      throw new TesseraError("token_revoked", "The session has ended.");
    default:
      return outcome satisfies never;
  }
  ctx.denylist.add({ id: `jti:${claims.jti}`, expiresAt: jtiExpiresAt });
  ctx.jwtCache.delete(accessToken);
  let record = outcome.session;
  try {
    const entry = await cacheRecord(ctx, record, since);
    const data = await ctx.hooks.run("afterUpgrade", { session: entry?.session ?? session, user });
    if (data !== undefined) {
      checkDataSize(ctx, data);
      const updated = await fromStore(ctx.store.updateSessionData(record.id, data, ctx.now()));
      if (updated === null) throw new TesseraError("token_revoked", "The session ended during the upgrade.");
      record = updated;
      ctx.cache.evict(record.id);
    }
  } catch (error) {
    // The JWT is already spent; leaving the session half-upgraded would strand the client.
    await revokeSessions(ctx, [record.id], "hook_failed").catch((cause: unknown) =>
      ctx.reportError(cause, "undo upgrade after failed afterUpgrade hook"),
    );
    throw error;
  }
  return tokenPair(ctx, record, user, refreshToken, sessionToken);
}

/** The upgrading client's metadata where it has some; the login's where it has none. */
function upgradedMetadata(
  given: RequestMetadata,
  current: { readonly userAgent: string | null; readonly ipAddress: string | null },
): { userAgent: string | null; ipAddress: string | null } {
  const clipped = metadataOf(given);
  return {
    userAgent: clipped.userAgent ?? current.userAgent,
    ipAddress: clipped.ipAddress ?? current.ipAddress,
  };
}
