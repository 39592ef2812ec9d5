/**
 * Single-use pre-authenticated links (seed 001; contract `POST /auth/links`,
 * `GET /auth/links/:token`). Issuing stores a pending session server-side — its `data` (up
 * to the session-data cap; large payloads never travel in the URL or a JWT), redirect,
 * device and issuing provider — under the SHA-256 of a fresh `tsl_` token, and hands the
 * token out once. Redeeming reads the link, builds its `session`-type session (carrying
 * that `data`), and hands both to the store's `redeemLink`, which consumes the link and
 * writes the session in one atomic step: of any number of concurrent redeemers exactly one
 * wins, and a crash leaves either both done or neither — never a used link without its
 * session.
 *
 * The `login` hook runs before that step, so a hook that refuses leaves the link unused.
 * If the `sessionCreated` hook fails afterwards, the new session is revoked and the link
 * stays spent: a link that might be replayed is worse than one that must be issued again.
 */
import { TesseraError } from "../errors.js";
import type { JsonValue, LinkRecord } from "../stores/session-store.js";
import { digestToken, generateOpaqueToken, opaqueTokenProblem } from "../tokens/opaque.js";
import { checkDataSize, type EngineContext, fromStore, loadSession, publicUser } from "./context.js";
import { finishSession, prepareSession } from "./login.js";
import type { PublicUser, RequestMetadata, Session, TokenPair } from "./types.js";

/** Where links are redeemed on the HTTP surface; the engine only names the path. */
export const LINK_PATH_PREFIX = "/auth/links/";
/** @default 600 (10 minutes, the contract's link lifetime) */
export const DEFAULT_LINK_TTL_SECONDS = 600;
/** The longest a link may live: a link is a bearer credential sitting in someone's inbox. */
export const MAX_LINK_TTL_SECONDS = 24 * 3600;
const MAX_REDIRECT_LENGTH = 2048;

export interface IssueLinkInput {
  /** Whose session the link starts. Give this or `session`. */
  readonly userId?: number;
  /** The session the link is issued from (its user gets the new session; kept for audit). */
  readonly session?: Session;
  /** Becomes the new session's `data`. @default null */
  readonly data?: JsonValue;
  /** @default 600 */
  readonly ttlSeconds?: number;
  /** Where the HTTP surface sends the browser after redemption: a path, or an absolute http(s) URL. */
  readonly redirectTo?: string | null;
  /** Require an explicit confirmation (a POST) before the link is consumed. @default false */
  readonly confirm?: boolean;
  /** The provider that authenticated the user; its `formatLinkResponse` shapes the redemption. */
  readonly provider?: string | null;
  readonly deviceId?: string | null;
  /** Who asked (recorded on the `link_issued` event). */
  readonly metadata?: RequestMetadata;
}

export interface IssuedLink {
  /** The `tsl_` token: shown once, stored only as its digest. */
  readonly token: string;
  /** `/auth/links/<token>`; the HTTP surface makes it absolute. */
  readonly path: string;
  readonly expiresAt: string;
}

/** A link as the surfaces see it: everything but its secret and its data. */
export interface LinkInfo {
  readonly userId: number;
  readonly redirectTo: string | null;
  readonly confirm: boolean;
  readonly provider: string | null;
  readonly deviceId: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export interface RedeemedLink {
  /** Always `tokenType: "session"`: the access token is a session token, fit for a cookie. */
  readonly pair: TokenPair;
  readonly session: Session;
  readonly link: LinkInfo;
}

export async function issueLink(ctx: EngineContext, input: IssueLinkInput): Promise<IssuedLink> {
  const ttlSeconds = input.ttlSeconds ?? DEFAULT_LINK_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LINK_TTL_SECONDS) {
    throw invalid("ttlSeconds", `must be a whole number of seconds from 1 to ${MAX_LINK_TTL_SECONDS}`);
  }
  const redirectTo = input.redirectTo ?? null;
  if (redirectTo !== null) {
    const problem = redirectShapeProblem(redirectTo);
    if (problem !== null) throw invalid("redirectTo", problem);
  }
  const data = input.data ?? null;
  checkDataSize(ctx, data);
  if (input.provider != null && ctx.providers.get(input.provider) === undefined) {
    throw new TypeError(`issueLink: no provider named "${input.provider}"`);
  }
  const user = await issuingUser(ctx, input);
  const token = generateOpaqueToken("link");
  const now = ctx.now();
  const expiresAt = now + ttlSeconds * 1000;
  await fromStore(
    ctx.store.createLink({
      hash: digestToken(token),
      userId: user.id,
      issuedBySessionId: input.session?.id ?? null,
      data,
      redirectTo,
      confirm: input.confirm ?? false,
      provider: input.provider ?? null,
      deviceId: input.deviceId ?? null,
      createdAt: now,
      expiresAt,
    }),
  );
  ctx.security.record({
    kind: "link_issued",
    userId: user.id,
    sessionId: input.session?.id ?? null,
    metadata: input.metadata,
    detail: { expiresAt: new Date(expiresAt).toISOString(), provider: input.provider ?? null },
  });
  return { token, path: LINK_PATH_PREFIX + token, expiresAt: new Date(expiresAt).toISOString() };
}

/** Consumes the link and starts its session; `link_used`, `link_expired` or `token_invalid` otherwise. */
export async function redeemLink(
  ctx: EngineContext,
  token: string,
  metadata: RequestMetadata = {},
): Promise<RedeemedLink> {
  const hash = linkDigest(token);
  // Links never change but for consumedAt, so the peeked record builds the session; the
  // store's redeemLink then decides, atomically, whether this redeemer gets it.
  const peeked = await fromStore(ctx.store.peekLink(hash));
  if (peeked === null) throw unknownLink();
  if (peeked.consumedAt !== null) throw usedLink();
  if (peeked.expiresAt <= ctx.now()) throw expiredLink();
  const owner = await fromStore(ctx.store.findUserById(peeked.userId));
  if (owner === null) throw unknownLink();
  const prepared = await prepareSession(ctx, {
    user: publicUser(owner),
    deviceId: peeked.deviceId,
    metadata,
    data: peeked.data,
    tokenType: "session",
    provider: peeked.provider ?? "link",
    authMethods: ["link"],
  });
  const outcome = await fromStore(
    ctx.store.redeemLink({ hash, now: prepared.input.session.createdAt, session: prepared.input }),
  );
  switch (outcome.kind) {
    case "not_found":
      throw unknownLink();
    case "used":
      throw usedLink();
    case "expired":
      throw expiredLink();
    case "redeemed":
      break;
    default:
      outcome satisfies never;
  }
  const link = outcome.link;
  ctx.security.record({
    kind: "link_redeemed",
    userId: outcome.session.userId,
    sessionId: outcome.session.id,
    metadata,
    detail: { provider: link.provider, issuedBySessionId: link.issuedBySessionId },
  });
  const pair = await finishSession(ctx, prepared, outcome.session, outcome.replaced);
  const entry = await loadSession(ctx, pair.sessionId);
  if (entry === null) throw new TesseraError("token_revoked", "The session has ended.");
  return { pair, session: entry.session, link: linkInfo(link) };
}

/**
 * Reads a live link without consuming it (confirmation pages, `HEAD`): the same refusals
 * as `redeemLink`, so a scanner's probe learns nothing a redemption would not tell it.
 */
export async function peekLink(ctx: EngineContext, token: string): Promise<LinkInfo> {
  const link = await fromStore(ctx.store.peekLink(linkDigest(token)));
  if (link === null) throw unknownLink();
  if (link.consumedAt !== null) throw usedLink();
  if (link.expiresAt <= ctx.now()) throw expiredLink();
  return linkInfo(link);
}

/**
 * Why `target` cannot be a redirect, or null. Only the shape is checked here: a path on
 * this server (one leading `/`, never `//` or `/\`, which browsers read as another host) or
 * an absolute http(s) URL. Which origins are allowed is the HTTP surface's decision.
 */
export function redirectShapeProblem(target: string): string | null {
  if (target.length === 0 || target.length > MAX_REDIRECT_LENGTH) {
    return `must be 1 to ${MAX_REDIRECT_LENGTH} characters`;
  }
  // Control characters, spaces and backslashes are how look-alike redirects are smuggled.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u0020\u007f\\]/.test(target))
    return "must not contain spaces, control characters or backslashes";
  if (target.startsWith("/")) return target.startsWith("//") ? "must not start with //" : null;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return "must be a path starting with / or an absolute http(s) URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http or https URL";
  if (url.username !== "" || url.password !== "") return "must not carry credentials";
  return null;
}

async function issuingUser(ctx: EngineContext, input: IssueLinkInput): Promise<PublicUser> {
  const userId = input.session?.userId ?? input.userId;
  if (userId === undefined) throw new TypeError("issueLink needs a userId or a session");
  if (input.session !== undefined && input.userId !== undefined && input.userId !== input.session.userId) {
    throw new TypeError("issueLink: userId and session name different users");
  }
  const user = await fromStore(ctx.store.findUserById(userId));
  if (user === null) throw new TesseraError("not_found", "No such user.");
  return publicUser(user);
}

function linkDigest(token: string): string {
  const problem = typeof token === "string" ? opaqueTokenProblem(token, "link") : "not a string";
  if (problem !== null) throw new TesseraError("token_invalid", `Malformed link token (${problem}).`);
  return digestToken(token);
}

function linkInfo(link: LinkRecord): LinkInfo {
  return {
    userId: link.userId,
    redirectTo: link.redirectTo,
    confirm: link.confirm,
    provider: link.provider,
    deviceId: link.deviceId,
    createdAt: new Date(link.createdAt).toISOString(),
    expiresAt: new Date(link.expiresAt).toISOString(),
  };
}

function invalid(path: string, message: string): TesseraError {
  return new TesseraError("invalid_request", `Invalid link request: ${path} ${message}.`, {
    issues: [{ path, message }],
  });
}

const unknownLink = () => new TesseraError("token_invalid", "Unknown link.");
const usedLink = () => new TesseraError("link_used", "This link has already been used.");
const expiredLink = () => new TesseraError("link_expired", "This link has expired.");
