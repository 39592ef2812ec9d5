/**
 * What a signed-in user does to their own account: prove who they are again on the
 * session they hold (re-authentication, OWASP ASVS 5.0 V7.5), and change their password,
 * which ends every other session of theirs (ASVS V7.4.3: a credential change lets the user
 * end the sessions a thief may hold). Both verify a password the way login does —
 * throttled per username and address on the same counters, the same answer for every
 * failure — so neither is a side door for guessing.
 */
import { TesseraError } from "../errors.js";
import type { SessionRecord } from "../stores/session-store.js";
import { authenticateWith } from "./authenticate.js";
import { type EngineContext, fromStore, revokeUserSessions } from "./context.js";
import { checkSession } from "./idle.js";
import { authMethodOf, verifyPassword } from "./login.js";
import { toPublicSession } from "./session-cache.js";
import type { RequestMetadata, Session } from "./types.js";

/** A fresh proof of identity for `reauthenticate`: the user's password, or a provider's fields. */
export type ReauthenticateInput =
  | {
      readonly sessionId: string;
      readonly password: string;
      readonly metadata?: RequestMetadata;
    }
  | {
      readonly sessionId: string;
      /** A provider's name (`password` takes `{password}` like the first form). */
      readonly provider: string;
      /** The provider's input, checked by its schema as a login body is. */
      readonly fields: unknown;
      readonly metadata?: RequestMetadata;
    };

export interface ChangePasswordInput {
  /** The session that asks: it stays; with `endOtherSessions`, every other one ends. */
  readonly sessionId: string;
  readonly currentPassword: string;
  readonly newPassword: string;
  /** @default true */
  readonly endOtherSessions?: boolean;
  readonly metadata?: RequestMetadata;
}

/**
 * Records a fresh proof on a live session (`authenticatedAt` now, `authMethods` the
 * proof's): no new session, no new tokens. A wrong password is `invalid_credentials` and
 * counts towards login throttling; a provider proof of another user is refused the same way.
 */
export async function reauthenticate(ctx: EngineContext, input: ReauthenticateInput): Promise<Session> {
  const { session, user } = await checkSession(ctx, input.sessionId, { use: true });
  const metadata = input.metadata ?? {};
  let method: string;
  if ("password" in input || input.provider === "password" || input.provider === "unamepwd") {
    const password = "password" in input ? input.password : passwordField(input.fields);
    await verifyPassword(ctx, user.username, password, metadata);
    method = "pwd";
  } else {
    // An identity not yet linked proves nobody here: nothing is created or adopted.
    const proved = await authenticateWith(ctx, input.provider, input.fields, metadata, "reauthenticate");
    if (proved.user.id !== user.id) {
      throw new TesseraError("invalid_credentials", "That proof is not of this session's user.");
    }
    method = authMethodOf(proved.provider);
  }
  const now = ctx.now();
  const record = await fromStore(ctx.store.markAuthenticated(session.id, now, [method], now));
  return toPublicSession(fresh(ctx, record));
}

/**
 * Replaces the user's password after checking the current one; every other session of the
 * user ends (their sockets close on every node) unless `endOtherSessions` is false, and
 * the asking session counts as freshly authenticated. The new password obeys the same
 * rules as at registration.
 */
export async function changePassword(ctx: EngineContext, input: ChangePasswordInput): Promise<void> {
  const { session, user } = await checkSession(ctx, input.sessionId, { use: true });
  // The cheap refusal first: a new password that could never be set costs no hashing.
  if (typeof input.newPassword !== "string") throw newPasswordIssue("must be a string");
  try {
    ctx.hasher.checkPolicy(input.newPassword);
  } catch (error) {
    if (error instanceof TesseraError && error.code === "invalid_request") {
      throw newPasswordIssue(error.issues?.[0]?.message ?? error.message);
    }
    throw error;
  }
  await verifyPassword(ctx, user.username, input.currentPassword, input.metadata ?? {});
  const hash = await ctx.hasher.hash(input.newPassword);
  if (!(await fromStore(ctx.store.setPasswordHash(user.id, hash)))) {
    throw new TesseraError("token_revoked", "The session's user no longer exists.");
  }
  ctx.security.record({
    kind: "password_changed",
    userId: user.id,
    sessionId: session.id,
    metadata: input.metadata,
  });
  if (input.endOtherSessions ?? true) {
    await revokeUserSessions(ctx, user.id, "password_changed", session.id, input.metadata);
  }
  const now = ctx.now();
  fresh(ctx, await fromStore(ctx.store.markAuthenticated(session.id, now, ["pwd"], now)));
}

/** The store's answer to `markAuthenticated`, with this process's cache brought up to date. */
function fresh(ctx: EngineContext, record: SessionRecord | null): SessionRecord {
  if (record === null) throw new TesseraError("token_revoked", "The session has ended.");
  ctx.cache.evict(record.id);
  return record;
}

function passwordField(fields: unknown): string {
  const password =
    typeof fields === "object" && fields !== null && !Array.isArray(fields)
      ? (fields as Record<string, unknown>).password
      : undefined;
  if (typeof password !== "string" || password.length === 0) {
    throw new TesseraError("invalid_request", "Invalid re-authentication: password is required.", {
      issues: [{ path: "password", message: "is required" }],
    });
  }
  return password;
}

function newPasswordIssue(message: string): TesseraError {
  return new TesseraError("invalid_request", `Invalid password change: newPassword ${message}.`, {
    issues: [{ path: "newPassword", message }],
  });
}
