/**
 * Server-side reissue (seed 003): a socket's heartbeat sees its session near expiry and
 * pushes fresh tokens without being asked. The server holds no refresh token to present,
 * so the store supersedes the session's current refresh tokens (a later presentation of
 * one answers `token_revoked`, not reuse) and issues new ones, extending the session by
 * its full lifetime — up to its absolute cap (`maxExpiresAt`, fixed at login) and no
 * further: the store clamps too, but the engine asks for no more than the cap allows.
 */
import { TesseraError } from "../errors.js";
import { digestToken, generateOpaqueToken } from "../tokens/opaque.js";
import { type EngineContext, fromStore, loadSession, sessionProblem, tokenPair } from "./context.js";
import { liveEntry } from "./idle.js";
import type { RequestMetadata, TokenPair } from "./types.js";

export async function reissue(
  ctx: EngineContext,
  sessionId: string,
  metadata?: RequestMetadata,
): Promise<TokenPair> {
  const now = ctx.now();
  const refreshToken = generateOpaqueToken("refresh");
  const sessionToken = generateOpaqueToken("session");
  const current = await loadSession(ctx, sessionId);
  if (current === null) throw new TesseraError("token_revoked", "The session has ended.");
  const problem = sessionProblem(current, current.revoked, now);
  if (problem !== null) throw problem;
  const expiresAt = Math.min(now + ctx.options.sessionTtlMs, current.maxExpiresAt);
  const since = ctx.cache.epoch;
  const record = await fromStore(
    ctx.store.reissueSession({
      sessionId,
      refreshToken: { hash: digestToken(refreshToken), createdAt: now, expiresAt },
      sessionTokenHash: digestToken(sessionToken),
      expiresAt,
      now,
    }),
  );
  if (record === null) throw new TesseraError("token_revoked", "The session has ended.");
  const entry = await liveEntry(ctx, record, { use: false, since });
  await ctx.hooks.run("refresh", { session: entry.session, user: entry.user });
  ctx.security.record({
    kind: "session_refreshed",
    userId: record.userId,
    sessionId,
    metadata,
    detail: { reissued: true },
  });
  return tokenPair(ctx, record, entry.user, refreshToken, sessionToken);
}
