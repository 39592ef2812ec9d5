/**
 * Running a named provider. `loginWith` starts a session from its result
 * (`POST /auth/login/:provider`); `authenticateWith` stops before that, for a plugin whose
 * answer to a proven identity is something other than a token pair — seed 001's partner
 * request answered with a pre-authenticated link (`issueLink` with the result's user, data
 * and the provider's name).
 */
import { TesseraError } from "../errors.js";
import type { EngineContext } from "./context.js";
import { providerContext, startSession } from "./login.js";
import { type ProviderResult, parseProviderInput } from "./providers.js";
import type { RequestMetadata, SessionTokenType, TokenPair } from "./types.js";

export interface Authenticated extends ProviderResult {
  /** The provider's own name (an alias resolves to it). */
  readonly provider: string;
}

export interface LoginWithOptions {
  /**
   * Overrides the provider's choice: a socket login needs a session token at once.
   * @default the provider's `tokenType`, else "jwt"
   */
  readonly tokenType?: SessionTokenType;
}

/**
 * Runs the provider. A proof it refuses (`invalid_credentials`) is recorded as
 * `login_failed` naming the provider — unless it was a password, which `verifyPassword`
 * recorded already.
 */
export async function authenticateWith(
  ctx: EngineContext,
  providerName: string,
  body: unknown,
  metadata: RequestMetadata = {},
  purpose: "login" | "reauthenticate" = "login",
): Promise<Authenticated> {
  const provider = ctx.providers.get(providerName);
  if (provider === undefined) throw new TesseraError("not_found", "No such login provider.");
  const input = parseProviderInput(provider, body);
  const context = providerContext(ctx, metadata, provider.name, purpose);
  let checkedPassword = false;
  try {
    const result = await provider.authenticate(input, {
      ...context,
      verifyPassword(username, password) {
        checkedPassword = true;
        return context.verifyPassword(username, password);
      },
    });
    return { ...result, provider: provider.name };
  } catch (error) {
    if (!checkedPassword && error instanceof TesseraError && error.code === "invalid_credentials") {
      ctx.security.record({
        kind: "login_failed",
        metadata,
        detail: { provider: provider.name, reason: "invalid_credentials" },
      });
    }
    throw error;
  }
}

/** Logs in through a named provider: its result becomes a new session. */
export async function loginWith(
  ctx: EngineContext,
  providerName: string,
  body: unknown,
  metadata: RequestMetadata = {},
  options: LoginWithOptions = {},
): Promise<TokenPair> {
  const result = await authenticateWith(ctx, providerName, body, metadata);
  const tokenType = options.tokenType ?? result.tokenType;
  return startSession(ctx, {
    user: result.user,
    deviceId: result.deviceId ?? null,
    deviceName: result.deviceName ?? null,
    metadata,
    provider: result.provider,
    ...(result.data === undefined ? {} : { data: result.data }),
    ...(tokenType === undefined ? {} : { tokenType }),
  });
}
