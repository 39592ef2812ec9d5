/**
 * Refresh / reissue (seeds 003, 004): a refresh token is spent and replaced, and the
 * session is extended by its full lifetime, up to its absolute cap; an upgraded session's session token rotates
 * with it.
 *
 * Theft detection without logging out honest clients: every refresh presenting the same
 * token within the grace window (two tabs, a retried request whose answer was lost) gets
 * the *same* successor, which was sealed under a key derived from the presented token.
 * After the window, or once that successor has itself been used, the old token shown
 * again is reuse: the whole session is revoked and `refresh_token_reused` returned.
 *
 * The same successor *pair* (contract "Refresh-token reuse"), for a `jwt` session too: its
 * access JWT is signed at rotation, after the sealing, so the seal keeps the JWT's `jti` and
 * issue time instead, and a replay signs the identical claims again. EdDSA (the default),
 * RS256 and HS* signatures are deterministic, so the replay is byte for byte the same
 * token; ES256 and PS256 give another signature over the same claims — the same token to
 * the denylist and to an upgrade, which both go by `jti`.
 */
import { randomUUID } from "node:crypto";
import { TesseraError } from "../errors.js";
import type { SessionRecord, SpentRefreshToken } from "../stores/session-store.js";
import { digestToken, generateOpaqueToken, opaqueTokenProblem } from "../tokens/opaque.js";
import { seal, unseal } from "../tokens/seal.js";
import { type EngineContext, fromStore, revokeSessions, tokenPair } from "./context.js";
import { liveEntry } from "./idle.js";
import type { PublicUser, RequestMetadata, TokenPair } from "./types.js";

interface Successor {
  readonly refreshToken: string;
  readonly sessionToken: string;
  /** The successor access JWT's `jti` and issue time (absent in seals made before they were kept). */
  readonly accessJti?: string;
  readonly issuedAt?: number;
}

/**
 * `onlySessionId`: a caller that may only refresh one session (a socket) names it; another
 * session's token is refused as unknown and is not spent.
 */
export async function refresh(
  ctx: EngineContext,
  refreshToken: string,
  onlySessionId?: string | null,
  metadata?: RequestMetadata,
): Promise<TokenPair> {
  const problem =
    typeof refreshToken === "string" ? opaqueTokenProblem(refreshToken, "refresh") : "not a string";
  if (problem !== null) throw new TesseraError("token_invalid", `Malformed refresh token (${problem}).`);
  const now = ctx.now();
  const successor: Successor = {
    refreshToken: generateOpaqueToken("refresh"),
    sessionToken: generateOpaqueToken("session"),
    accessJti: randomUUID(),
    issuedAt: now,
  };
  // Which session the token belongs to is known only inside the store's atomic step, so the
  // absolute cap is applied there: the store clamps `expiresAt` (and the successor's expiry)
  // to the session's `maxExpiresAt`, and a session past it is `expired`.
  const expiresAt = now + ctx.options.sessionTtlMs;
  const since = ctx.cache.epoch;
  const outcome = await fromStore(
    ctx.store.rotateRefreshToken({
      oldHash: digestToken(refreshToken),
      ...(onlySessionId == null ? {} : { sessionId: onlySessionId }),
      successor: { hash: digestToken(successor.refreshToken), createdAt: now, expiresAt },
      sealedSuccessor: seal(refreshToken, JSON.stringify(successor)),
      sessionTokenHash: digestToken(successor.sessionToken),
      expiresAt,
      now,
    }),
  );
  switch (outcome.kind) {
    case "not_found":
      throw new TesseraError("token_invalid", "Unknown refresh token.");
    case "revoked":
      throw new TesseraError("token_revoked", "The session has ended.");
    case "expired":
      throw new TesseraError("token_expired", "The refresh token has expired.");
    case "spent":
      return replay(ctx, refreshToken, outcome.token, outcome.session.id, metadata);
    case "rotated": {
      const entry = await liveEntry(ctx, outcome.session, { use: true, since });
      await ctx.hooks.run("refresh", { session: entry.session, user: entry.user });
      ctx.security.record({
        kind: "session_refreshed",
        userId: outcome.session.userId,
        sessionId: outcome.session.id,
        metadata,
      });
      return successorPair(ctx, outcome.session, entry.user, successor);
    }
    default:
      return outcome satisfies never;
  }
}

/** A spent token shown again: the same successor inside the grace window, else reuse. */
async function replay(
  ctx: EngineContext,
  refreshToken: string,
  spent: SpentRefreshToken,
  sessionId: string,
  metadata: RequestMetadata | undefined,
): Promise<TokenPair> {
  if (spent.sealedSuccessor === null) {
    // Superseded by an upgrade, not rotated: dead, but not a sign of theft.
    throw new TesseraError("token_revoked", "This refresh token was replaced when the session was upgraded.");
  }
  const inGrace = !spent.successorSpent && ctx.now() - spent.spentAt < ctx.options.graceMs;
  const opened = inGrace ? unseal(refreshToken, spent.sealedSuccessor) : null;
  if (opened === null) {
    await revokeSessions(ctx, [sessionId], "refresh_token_reused", metadata);
    throw new TesseraError(
      "refresh_token_reused",
      "This refresh token was already used; the session has been ended to protect the account.",
    );
  }
  const successor = JSON.parse(opened) as Successor;
  const readSince = ctx.cache.epoch;
  const record = await fromStore(ctx.store.getSession(sessionId));
  if (record === null || record.revokedAt !== null)
    throw new TesseraError("token_revoked", "The session has ended.");
  const entry = await liveEntry(ctx, record, { use: true, since: readSince });
  return successorPair(ctx, record, entry.user, successor);
}

function successorPair(
  ctx: EngineContext,
  record: SessionRecord,
  user: PublicUser,
  successor: Successor,
): Promise<TokenPair> {
  const { accessJti, issuedAt } = successor;
  const access = accessJti === undefined || issuedAt === undefined ? undefined : { jti: accessJti, issuedAt };
  return tokenPair(ctx, record, user, successor.refreshToken, successor.sessionToken, access);
}
