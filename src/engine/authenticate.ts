/**
 * Running a provider without starting a session: the first half of `loginWith`. A plugin
 * uses it when proving who someone is should produce something other than a token pair —
 * seed 001's partner request answered with a pre-authenticated link (`issueLink` with the
 * result's user, data and the provider's name).
 */
import { TesseraError } from "../errors.js";
import type { EngineContext } from "./context.js";
import { providerContext } from "./login.js";
import { type ProviderResult, parseProviderInput } from "./providers.js";
import type { RequestMetadata } from "./types.js";

export interface Authenticated extends ProviderResult {
  /** The provider's own name (an alias resolves to it). */
  readonly provider: string;
}

export async function authenticateWith(
  ctx: EngineContext,
  providerName: string,
  body: unknown,
  metadata: RequestMetadata = {},
): Promise<Authenticated> {
  const provider = ctx.providers.get(providerName);
  if (provider === undefined) throw new TesseraError("not_found", "No such login provider.");
  const input = parseProviderInput(provider, body);
  const result = await provider.authenticate(input, providerContext(ctx, metadata));
  return { ...result, provider: provider.name };
}
