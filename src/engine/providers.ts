/**
 * Auth providers: named ways to prove who someone is (seed 001). A provider declares an
 * input schema (checked before it runs, with field-level errors; unknown fields refused)
 * and an `authenticate` step that returns the user and optional session `data`. The
 * engine then starts the session exactly as for a password login.
 *
 * Built in: `password` (alias `unamepwd`, the seed's name). Plugins add more.
 */
import * as z from "zod";
import { TesseraError } from "../errors.js";
import type { JsonValue, SessionTokenType } from "../stores/session-store.js";
import type { ProviderIdentity, ResolveIdentityOptions } from "./identities.js";
import type { PublicUser, RequestMetadata } from "./types.js";

/** What a provider's `authenticate` may use. */
export interface ProviderContext {
  readonly metadata: RequestMetadata;
  /** Milliseconds since the epoch (the engine's clock). */
  now(): number;
  /** Checks a password; throws `invalid_credentials` (same time for unknown users). */
  verifyPassword(username: string, password: string): Promise<PublicUser>;
  /**
   * The user of an identity this provider vouches for: `(this provider, issuer, subject)`,
   * a namespace of its own. It is never the local user of the same name unless an
   * operator linked the two (`tessera users link`); on first sight it gets a new user named
   * `<provider>|<issuer>|<subject>` (or refuses, with `create: false`). Use this for
   * identities asserted by another system (a partner, an identity provider).
   */
  resolveIdentity(identity: ProviderIdentity, options?: ResolveIdentityOptions): Promise<PublicUser>;
  /**
   * Finds the user by *local* username, creating a password-less one on first sight. The
   * local username space: a name that is a password user's IS that user. Only for a
   * provider whose names are this deployment's own (a kiosk badge issued to local users);
   * never for names another system chose — use `resolveIdentity`.
   */
  findOrCreateUser(username: string): Promise<PublicUser>;
  /** Atomic replay guard: true the first time `key` is seen before `expiresAt`, false after. */
  rememberNonce(key: string, expiresAt: number): Promise<boolean>;
}

export interface ProviderResult {
  readonly user: PublicUser;
  readonly data?: JsonValue;
  readonly deviceId?: string | null;
  /** A name for the device (1 to 64 characters), shown in session lists. */
  readonly deviceName?: string | null;
  /** @default "jwt" */
  readonly tokenType?: SessionTokenType;
}

export interface AuthProvider<Input = unknown> {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Validates the request body before `authenticate` runs. Use `.strict()` objects. */
  readonly schema: z.ZodType<Input>;
  authenticate(input: Input, context: ProviderContext): Promise<ProviderResult>;
  /**
   * Media types besides `application/json` that `POST /auth/login/:name` accepts for this
   * provider, each parsed by a registered body parser (`application/x-www-form-urlencoded`
   * is built in; plugins add others) and then checked by `schema`. Other routes stay JSON.
   * @default []
   */
  readonly contentTypes?: readonly string[];
  /**
   * Accept such a body (a form post) from another site's page. Off, a non-JSON body that a
   * browser marks as cross-site is refused with `forbidden` — a page elsewhere must not log
   * a visitor in (login CSRF). Turn it on only when the body carries its own proof of
   * origin, such as a partner's signature. JSON bodies need a CORS preflight and are
   * unaffected. @default false
   */
  readonly allowCrossSite?: boolean;
  /**
   * Shapes the answer to a redeemed link that this provider issued, for callers that need
   * a particular format (seed 001). Returning undefined keeps the default.
   */
  readonly formatLinkResponse?: (result: LinkRedemption) => { contentType: string; body: string } | undefined;
}

/** What a redeemed link produced; given to a provider's `formatLinkResponse`. */
export interface LinkRedemption {
  readonly sessionId: string;
  readonly sessionToken: string;
  readonly refreshToken: string;
  readonly user: PublicUser;
  readonly data: JsonValue;
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

export class ProviderRegistry {
  readonly #byName = new Map<string, AuthProvider<unknown>>();

  register<Input>(provider: AuthProvider<Input>): void {
    for (const name of [provider.name, ...(provider.aliases ?? [])]) {
      if (!NAME.test(name)) throw new TypeError(`Provider name "${name}" must match ${NAME}`);
      if (this.#byName.has(name)) throw new TypeError(`A provider named "${name}" is already registered`);
    }
    for (const name of [provider.name, ...(provider.aliases ?? [])]) {
      this.#byName.set(name, provider as AuthProvider<unknown>);
    }
  }

  get(name: string): AuthProvider<unknown> | undefined {
    return this.#byName.get(name);
  }

  names(): string[] {
    return [...new Set([...this.#byName.values()].map((provider) => provider.name))];
  }
}

/** Parses provider input, turning schema failures into `invalid_request` with field issues. */
export function parseProviderInput<Input>(provider: AuthProvider<Input>, body: unknown): Input {
  const parsed = provider.schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));
  const first = issues[0];
  throw new TesseraError(
    "invalid_request",
    first ? `Invalid ${provider.name} login: ${first.path} ${first.message}.` : "Invalid login request.",
    { issues },
  );
}

export const passwordInput = z
  .object({
    username: z.string().min(1).max(256),
    password: z.string().min(1).max(4096),
    deviceId: z.string().min(1).max(128).nullable().optional(),
    deviceName: z
      .string()
      .min(1)
      .max(64)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
      .nullable()
      .optional(),
  })
  .strict();

export const passwordProvider: AuthProvider<z.infer<typeof passwordInput>> = {
  name: "password",
  aliases: ["unamepwd"],
  schema: passwordInput,
  async authenticate(input, context) {
    const user = await context.verifyPassword(input.username, input.password);
    return { user, deviceId: input.deviceId ?? null, deviceName: input.deviceName ?? null };
  },
};
