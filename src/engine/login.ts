/**
 * Password login, and `startSession`, which every way in (password, providers, gRPC,
 * links) ends with: one session per login per device, its first refresh token, and an
 * access JWT (or, for surfaces that want it, a session token straight away).
 */
import { randomUUID } from "node:crypto";
import { TesseraError } from "../errors.js";
import { normaliseUsername } from "../passwords/username.js";
import { digestToken, generateOpaqueToken } from "../tokens/opaque.js";
import {
  checkDataSize,
  type EngineContext,
  fromStore,
  metadataOf,
  publicUser,
  revokeSessions,
  tokenPair,
} from "./context.js";
import type { ProviderContext } from "./providers.js";
import { toPublicSession } from "./session-cache.js";
import type { LoginInput, PublicUser, RequestMetadata, StartSessionInput, TokenPair } from "./types.js";

const MAX_DEVICE_ID_LENGTH = 128;

export async function login(ctx: EngineContext, input: LoginInput): Promise<TokenPair> {
  const user = await verifyPassword(ctx, input.username, input.password, input.metadata ?? {});
  return startSession(ctx, {
    user,
    deviceId: input.deviceId ?? null,
    metadata: input.metadata ?? {},
    provider: "password",
    ...(input.tokenType === undefined ? {} : { tokenType: input.tokenType }),
  });
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
  let key: string | null = null;
  try {
    key = normaliseUsername(username).key;
  } catch {
    // A name that could never exist still pays for a verification below.
  }
  const throttleKey = key ?? "\u0000invalid";
  const ip = metadata.ipAddress ?? null;
  ctx.throttle?.check(throttleKey, ip, ctx.now());
  const user = key === null ? null : await fromStore(ctx.store.findUserByUsernameKey(key));
  const ok = await ctx.hasher.verifyOrDummy(user?.passwordHash ?? null, password);
  if (user === null || !ok) {
    ctx.throttle?.failure(throttleKey, ip, ctx.now());
    throw new TesseraError("invalid_credentials", "The username or password is incorrect.");
  }
  ctx.throttle?.success(throttleKey);
  return publicUser(user);
}

export function providerContext(ctx: EngineContext, metadata: RequestMetadata): ProviderContext {
  return {
    metadata,
    now: ctx.now,
    verifyPassword: (username, password) => verifyPassword(ctx, username, password, metadata),
    async findOrCreateUser(username) {
      const name = normaliseUsername(username);
      const existing = await fromStore(ctx.store.findUserByUsernameKey(name.key));
      if (existing !== null) return publicUser(existing);
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
  const deviceId = input.deviceId ?? null;
  if (deviceId !== null && (deviceId.length === 0 || deviceId.length > MAX_DEVICE_ID_LENGTH)) {
    throw new TesseraError("invalid_request", `deviceId must be 1 to ${MAX_DEVICE_ID_LENGTH} characters.`, {
      issues: [{ path: "deviceId", message: `must be 1 to ${MAX_DEVICE_ID_LENGTH} characters` }],
    });
  }
  const data = input.data ?? null;
  checkDataSize(ctx, data);
  const provider = input.provider ?? "password";
  const metadata = metadataOf(input.metadata);
  await ctx.hooks.run("login", { user: input.user, provider, metadata });

  const now = ctx.now();
  const tokenType = input.tokenType ?? "jwt";
  const sessionToken = tokenType === "session" ? generateOpaqueToken("session") : null;
  const refreshToken = generateOpaqueToken("refresh");
  const id = randomUUID();
  const expiresAt = now + ctx.options.sessionTtlMs;
  const { session, replaced } = await fromStore(
    ctx.store.createSession({
      session: {
        id,
        userId: input.user.id,
        deviceId,
        createdAt: now,
        lastSeenAt: now,
        expiresAt,
        tokenType,
        metadata,
        data,
        sessionTokenHash: sessionToken === null ? null : digestToken(sessionToken),
      },
      refreshToken: { hash: digestToken(refreshToken), sessionId: id, createdAt: now, expiresAt },
    }),
  );
  for (const replacedId of replaced) ctx.cache.markRevoked(replacedId);
  if (replaced.length > 0 && ctx.hooks.has("revoke")) {
    await ctx.hooks
      .run("revoke", { sessionIds: replaced, reason: "device_replaced" })
      .catch((error: unknown) => ctx.reportError(error, "revoke hook"));
  }
  try {
    await ctx.hooks.run("sessionCreated", { session: toPublicSession(session), user: input.user, provider });
  } catch (error) {
    // No half-made session: the one just created ends before the error reaches the caller.
    await revokeSessions(ctx, [id], "hook_failed").catch((cause: unknown) =>
      ctx.reportError(cause, "undo session after failed sessionCreated hook"),
    );
    throw error;
  }
  return tokenPair(ctx, session, input.user, refreshToken, sessionToken);
}
