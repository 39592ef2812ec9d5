/**
 * Password login, and `startSession`, which every way in (password, providers, gRPC,
 * links) ends with: one session per login per device, its first refresh token, and an
 * access JWT (or, for surfaces that want it, a session token straight away).
 */
import { randomUUID } from "node:crypto";
import { TesseraError } from "../errors.js";
import { normaliseLocalUsername, normaliseUsername } from "../passwords/username.js";
import type { CreateSessionInput, SessionRecord } from "../stores/session-store.js";
import { digestToken, generateOpaqueToken } from "../tokens/opaque.js";
import {
  checkDataSize,
  type EngineContext,
  fromStore,
  metadataOf,
  publicUser,
  recordRevocations,
  revokeSessions,
  tokenPair,
} from "./context.js";
import { resolveIdentity } from "./identities.js";
import type { ProviderContext } from "./providers.js";
import { deviceDetail } from "./security-log.js";
import { toPublicSession } from "./session-cache.js";
import { hasUnkeptCharacters } from "./text.js";
import type { LoginInput, PublicUser, RequestMetadata, StartSessionInput, TokenPair } from "./types.js";

const MAX_DEVICE_ID_LENGTH = 128;
/** The contract's limit on a device name. */
export const MAX_DEVICE_NAME_LENGTH = 64;

export async function login(ctx: EngineContext, input: LoginInput): Promise<TokenPair> {
  // Checked before the password, so a bad name costs no hashing and no throttle count.
  deviceNameOf(input.deviceName);
  const user = await verifyPassword(ctx, input.username, input.password, input.metadata ?? {});
  return startSession(ctx, {
    user,
    deviceId: input.deviceId ?? null,
    deviceName: input.deviceName ?? null,
    metadata: input.metadata ?? {},
    provider: "password",
    ...(input.tokenType === undefined ? {} : { tokenType: input.tokenType }),
  });
}

/** The validated device name, or null; `invalid_request` for anything but 1–64 printable characters. */
export function deviceNameOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    [...value].length > MAX_DEVICE_NAME_LENGTH ||
    hasUnkeptCharacters(value)
  ) {
    const message = `must be 1 to ${MAX_DEVICE_NAME_LENGTH} characters, without control characters`;
    throw new TesseraError("invalid_request", `deviceName ${message}.`, {
      issues: [{ path: "deviceName", message }],
    });
  }
  return value;
}

/** The `authMethods` a session records for a provider: `pwd` for passwords, else its name. */
export function authMethodOf(provider: string): string {
  return provider === "password" || provider === "unamepwd" ? "pwd" : provider;
}

/**
 * Checks a username and password, throttled per username and IP. An unknown user costs
 * the same argon2 verification as a wrong password, and gets the same error.
 */
export async function verifyPassword(
  ctx: EngineContext,
  username: string,
  password: string,
  metadata: RequestMetadata,
): Promise<PublicUser> {
  // A login the hashing queue would refuse is refused first, before the throttle and the
  // store are asked: under a login flood the refusals then cost the event loop next to
  // nothing. It depends on the load alone, never on the name, and no password was checked.
  ctx.hasher.refuseIfBusy();
  let key: string | null = null;
  try {
    key = normaliseUsername(username).key;
  } catch {
    // A name that could never exist still pays for a verification below.
  }
  const ip = metadata.ipAddress ?? null;
  const throttle = ctx.throttle;
  if (throttle !== null) await fromStore(throttle.check(key, ip, ctx.now()));
  const user = key === null ? null : await fromStore(ctx.store.findUserByUsernameKey(key));
  const ok = await ctx.hasher.verifyOrDummy(user?.passwordHash ?? null, password, () => {
    if (user !== null) rehash(ctx, user.id, password);
  });
  // A disabled account is refused like a wrong password, after the same work: whoever
  // knows the name learns nothing of the account's state.
  if (user === null || !ok || user.disabledAt !== null) {
    // The name as typed is never kept (people type passwords into it): only its key.
    ctx.security.record({
      kind: "login_failed",
      userId: user?.id ?? null,
      usernameKey: key,
      metadata,
      detail: {
        provider: "password",
        reason: ok && user !== null ? "user_disabled" : "invalid_credentials",
      },
    });
    if (throttle !== null) await fromStore(throttle.failure(key, ip, ctx.now()));
    throw new TesseraError("invalid_credentials", "The username or password is incorrect.");
  }
  if (throttle !== null) await fromStore(throttle.success(key));
  return publicUser(user);
}

/**
 * Replaces a hash of the password as it was typed with a hash of its normalised form, in
 * the background (the login does not wait; a failure only means it happens next time).
 */
function rehash(ctx: EngineContext, userId: number, password: string): void {
  void ctx.hasher
    .hash(password)
    .then((hash) => ctx.store.setPasswordHash(userId, hash))
    .catch((error: unknown) => ctx.reportError(error, "password rehash"));
}

/**
 * What `provider` may use while it runs. `purpose` "reauthenticate" proves an existing
 * session's user: nothing is created or adopted then.
 */
export function providerContext(
  ctx: EngineContext,
  metadata: RequestMetadata,
  provider: string,
  purpose: "login" | "reauthenticate" = "login",
): ProviderContext {
  const creating = purpose === "login";
  return {
    metadata,
    now: ctx.now,
    verifyPassword: (username, password) => verifyPassword(ctx, username, password, metadata),
    resolveIdentity: (identity, options = {}) =>
      resolveIdentity(ctx, provider, identity, options, metadata, creating),
    async findOrCreateUser(username) {
      const name = normaliseLocalUsername(username);
      const existing = await fromStore(ctx.store.findUserByUsernameKey(name.key));
      if (existing !== null) return publicUser(existing);
      if (!creating) throw new TesseraError("invalid_credentials", "No such user.");
      await ctx.hooks.run("beforeRegister", { username: name.display, source: "provider", metadata });
      const created = await fromStore(
        ctx.store.createUser({
          uuid: randomUUID(),
          username: name.display,
          usernameKey: name.key,
          passwordHash: null,
          createdAt: ctx.now(),
        }),
      );
      // Lost a race with a concurrent first sight: the winner's row is the user.
      const user = created ?? (await fromStore(ctx.store.findUserByUsernameKey(name.key)));
      if (user === null) throw new TesseraError("unavailable", "The user could not be created; try again.");
      return publicUser(user);
    },
    rememberNonce: (key, expiresAt) => fromStore(ctx.store.rememberNonce(key, expiresAt, ctx.now())),
  };
}

export async function startSession(ctx: EngineContext, input: StartSessionInput): Promise<TokenPair> {
  const prepared = await prepareSession(ctx, input);
  const { session, replaced } = await fromStore(ctx.store.createSession(prepared.input));
  return finishSession(ctx, prepared, session, replaced);
}

/** A session about to be written, with the tokens only this process will ever see. */
export interface PreparedSession {
  readonly input: CreateSessionInput;
  readonly user: StartSessionInput["user"];
  readonly provider: string;
  readonly refreshToken: string;
  readonly sessionToken: string | null;
  /** The request as given (its surface goes on the security events). */
  readonly metadata: RequestMetadata;
}

/**
 * Checks the input, runs the `login` hook (which may refuse: then nothing is written) and
 * builds the store's `CreateSessionInput`. Split from `startSession` so that a link can
 * write its session in the same store step that consumes it.
 */
export async function prepareSession(ctx: EngineContext, input: StartSessionInput): Promise<PreparedSession> {
  const deviceId = input.deviceId ?? null;
  if (
    deviceId !== null &&
    (deviceId.length === 0 || deviceId.length > MAX_DEVICE_ID_LENGTH || hasUnkeptCharacters(deviceId))
  ) {
    const message = `must be 1 to ${MAX_DEVICE_ID_LENGTH} characters, without control characters`;
    throw new TesseraError("invalid_request", `deviceId ${message}.`, {
      issues: [{ path: "deviceId", message }],
    });
  }
  const deviceName = deviceNameOf(input.deviceName);
  const data = input.data ?? null;
  checkDataSize(ctx, data);
  const provider = input.provider ?? "password";
  const authMethods = [...(input.authMethods ?? [authMethodOf(provider)])];
  const metadata = metadataOf(input.metadata);
  // Every way in ends here (password, providers, gRPC, the socket, links): a disabled user
  // gets no session, whatever proved who they are.
  const account = await fromStore(ctx.store.findUserById(input.user.id));
  if (account === null || account.disabledAt !== null) {
    throw new TesseraError("invalid_credentials", "This account cannot sign in.");
  }
  await ctx.hooks.run("login", { user: input.user, provider, metadata });

  const now = ctx.now();
  const tokenType = input.tokenType ?? "jwt";
  const sessionToken = tokenType === "session" ? generateOpaqueToken("session") : null;
  const refreshToken = generateOpaqueToken("refresh");
  const id = randomUUID();
  const maxExpiresAt = now + ctx.options.absoluteLifetimeMs;
  const expiresAt = Math.min(now + ctx.options.sessionTtlMs, maxExpiresAt);
  return {
    input: {
      session: {
        id,
        userId: input.user.id,
        deviceId,
        deviceName,
        createdAt: now,
        lastSeenAt: now,
        expiresAt,
        maxExpiresAt,
        authenticatedAt: now,
        authMethods,
        tokenType,
        metadata,
        data,
        sessionTokenHash: sessionToken === null ? null : digestToken(sessionToken),
      },
      refreshToken: { hash: digestToken(refreshToken), sessionId: id, createdAt: now, expiresAt },
    },
    user: input.user,
    provider,
    refreshToken,
    sessionToken,
    metadata: input.metadata ?? {},
  };
}

/** After the store wrote the session: the replaced devices, the `sessionCreated` hook, the pair. */
export async function finishSession(
  ctx: EngineContext,
  prepared: PreparedSession,
  session: SessionRecord,
  replaced: readonly string[],
): Promise<TokenPair> {
  for (const replacedId of replaced) ctx.cache.markRevoked(replacedId);
  recordRevocations(
    ctx,
    replaced.map((id) => ({ id, userId: session.userId })),
    "device_replaced",
    prepared.metadata,
  );
  if (replaced.length > 0 && ctx.hooks.has("revoke")) {
    await ctx.hooks
      .run("revoke", { sessionIds: replaced, reason: "device_replaced" })
      .catch((error: unknown) => ctx.reportError(error, "revoke hook"));
  }
  const { user, provider } = prepared;
  try {
    await ctx.hooks.run("sessionCreated", { session: toPublicSession(session), user, provider });
  } catch (error) {
    // No half-made session: the one just created ends before the error reaches the caller.
    await revokeSessions(ctx, [session.id], "hook_failed").catch((cause: unknown) =>
      ctx.reportError(cause, "undo session after failed sessionCreated hook"),
    );
    throw error;
  }
  recordSessionStart(ctx, prepared, session);
  return tokenPair(ctx, session, user, prepared.refreshToken, prepared.sessionToken);
}

/** `login_succeeded` (unless a link opened it: that is `link_redeemed`), then `session_created`. */
function recordSessionStart(ctx: EngineContext, prepared: PreparedSession, session: SessionRecord): void {
  const who = {
    userId: session.userId,
    usernameKey: usernameKeyOf(prepared.user.username),
    sessionId: session.id,
    metadata: prepared.metadata,
  };
  if (!session.authMethods.includes("link")) {
    ctx.security.record({
      ...who,
      kind: "login_succeeded",
      detail: {
        provider: prepared.provider,
        ...deviceDetail(session.deviceId, session.metadata.userAgent),
      },
    });
  }
  ctx.security.record({
    ...who,
    kind: "session_created",
    detail: {
      provider: prepared.provider,
      tokenType: session.tokenType,
      deviceId: session.deviceId,
      deviceName: session.deviceName,
    },
  });
}

/** The key of a stored user's display name (the same normalisation made it). */
function usernameKeyOf(username: string): string | null {
  try {
    return normaliseUsername(username).key;
  } catch {
    return null;
  }
}
