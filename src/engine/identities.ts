/**
 * Provider identities (issue 11, item 20): who a provider says someone is —
 * `(provider, issuer, subject)`, e.g. `signed-payload`, the partner `acme`, its user
 * `alice` — is a namespace of its own. It resolves to a user only through the store's
 * identity table, never through usernames: a partner that signs `sub: "alice"` is not the
 * local password user `alice` unless an operator linked the two (`linkIdentity`,
 * `tessera users link`).
 *
 * On first sight an identity gets a new user (unless the provider is configured to refuse),
 * created together with the identity in one store step. Its username is
 * `<provider>|<issuer>|<subject>` — `|` is refused in every name chosen locally, so it
 * cannot collide with a local user's — or, when that is no valid username (too long,
 * not in normal form, a subject unsafe to show), `<provider>|~<22 characters of its SHA-256>`.
 *
 * Users made by providers before identities existed have no identity row (nothing recorded
 * which partner vouched for them). A provider may opt in to adopting them
 * (`adoptUnlinkedUser`): an unknown identity then takes over the user named by its subject
 * if that user has no password and no identity yet. A password user is never adopted.
 */
import { createHash, randomUUID } from "node:crypto";
import { TesseraError } from "../errors.js";
import { IDENTITY_NAME_MARK, MAX_USERNAME_LENGTH, normaliseUsername } from "../passwords/username.js";
import type { IdentityKey, IdentityRecord, UserRecord } from "../stores/session-store.js";
import { type EngineContext, fromStore, publicUser } from "./context.js";
import { hasUnkeptCharacters } from "./text.js";
import type { PublicUser, RequestMetadata } from "./types.js";

/** What a provider names: the issuer (partner) inside it and the issuer's id of the person. */
export interface ProviderIdentity {
  /** The partner or issuer (`acme`); `""` for a provider that has only one. At most 256 characters. */
  readonly issuer: string;
  /** The issuer's id of the person, compared exactly (case matters). 1 to 256 characters. */
  readonly subject: string;
}

export interface ResolveIdentityOptions {
  /**
   * Create a user for an identity seen for the first time. Off, an unknown identity is
   * refused with `invalid_credentials` (only identities an operator linked may sign in).
   * @default true
   */
  readonly create?: boolean;
  /**
   * Upgrading from a Tessera without identities: an unknown identity takes over the user
   * named by its subject, if that user has no password and no identity yet, instead of
   * getting a new user. Only for a provider whose subjects were the usernames of the users
   * it made before. @default false
   */
  readonly adoptUnlinkedUser?: boolean;
}

/** An identity as the engine shows it. */
export interface LinkedIdentity extends IdentityKey {
  readonly userId: number;
  /** ISO-8601. */
  readonly linkedAt: string;
}

const MAX_PART_LENGTH = 256;

/**
 * The user of `provider`'s identity. `creating` false (re-authentication) never makes or
 * adopts a user: an unknown identity is `invalid_credentials`.
 */
export async function resolveIdentity(
  ctx: EngineContext,
  provider: string,
  identity: ProviderIdentity,
  options: ResolveIdentityOptions,
  metadata: RequestMetadata,
  creating: boolean,
): Promise<PublicUser> {
  const key = identityKey(provider, identity);
  const found = await fromStore(ctx.store.findIdentity(key));
  if (found !== null) return userOf(ctx, found);
  if (creating && options.adoptUnlinkedUser === true) {
    const adopted = await adopt(ctx, key, metadata);
    if (adopted !== null) return adopted;
  }
  if (!creating || options.create === false) {
    throw new TesseraError("invalid_credentials", "This identity is not linked to an account.");
  }
  const names = usernamesFor(key);
  await ctx.hooks.run("beforeRegister", { username: names[0]?.display ?? "", source: "provider", metadata });
  for (const name of names) {
    const created = await fromStore(
      ctx.store.createUserWithIdentity(
        {
          uuid: randomUUID(),
          username: name.display,
          usernameKey: name.key,
          passwordHash: null,
          createdAt: ctx.now(),
        },
        key,
      ),
    );
    if (created !== null) return publicUser(created);
    // Lost a race with a concurrent first sight: the winner's user is the identity's.
    const winner = await fromStore(ctx.store.findIdentity(key));
    if (winner !== null) return userOf(ctx, winner);
  }
  throw new TesseraError("unavailable", "The user could not be created; try again.");
}

/** Links an identity to an existing user (an operator's decision). Linking it again to the same user is a no-op. */
export async function linkIdentity(
  ctx: EngineContext,
  input: IdentityKey & { readonly userId: number },
): Promise<LinkedIdentity> {
  const key = identityKey(input.provider, input);
  const outcome = await fromStore(
    ctx.store.linkIdentity({ ...key, userId: input.userId, createdAt: ctx.now() }),
  );
  if (outcome.kind === "no_user") throw new TesseraError("not_found", "No such user.");
  if (outcome.kind === "taken" && outcome.identity.userId !== input.userId) {
    throw new TesseraError("invalid_request", "That identity is linked to another user; unlink it first.", {
      issues: [{ path: "subject", message: "is linked to another user" }],
    });
  }
  if (outcome.kind === "linked") recordLink(ctx, "identity_linked", outcome.identity, "linked");
  return shown(outcome.identity);
}

/** Unlinks an identity; its next login is a first sight again. False when it was not linked. */
export async function unlinkIdentity(ctx: EngineContext, identity: IdentityKey): Promise<boolean> {
  const key = identityKey(identity.provider, identity);
  const linked = await fromStore(ctx.store.findIdentity(key));
  if (linked === null || !(await fromStore(ctx.store.unlinkIdentity(key)))) return false;
  recordLink(ctx, "identity_unlinked", linked, "unlinked");
  return true;
}

function recordLink(
  ctx: EngineContext,
  kind: "identity_linked" | "identity_unlinked",
  identity: IdentityRecord,
  reason: string,
  metadata?: RequestMetadata,
): void {
  const { provider, issuer, subject } = identity;
  ctx.security.record({
    kind,
    userId: identity.userId,
    metadata,
    detail: { reason, provider, issuer, subject },
  });
}

export async function listIdentities(ctx: EngineContext, userId: number): Promise<LinkedIdentity[]> {
  return (await fromStore(ctx.store.listIdentities(userId))).map(shown);
}

function identityKey(provider: string, identity: ProviderIdentity): IdentityKey {
  const { issuer, subject } = identity;
  if (typeof provider !== "string" || provider.length === 0 || provider.length > MAX_PART_LENGTH) {
    throw new TypeError(`An identity's provider must be 1 to ${MAX_PART_LENGTH} characters`);
  }
  if (typeof issuer !== "string" || issuer.length > MAX_PART_LENGTH) {
    throw new TypeError(`An identity's issuer must be a string of at most ${MAX_PART_LENGTH} characters`);
  }
  if (typeof subject !== "string" || subject.length === 0 || subject.length > MAX_PART_LENGTH) {
    throw new TesseraError("invalid_request", `The subject must be 1 to ${MAX_PART_LENGTH} characters.`, {
      issues: [{ path: "subject", message: `must be 1 to ${MAX_PART_LENGTH} characters` }],
    });
  }
  // Issuer and subject come from what a provider was sent (a partner's payload, a token's
  // claims): a character no store keeps as given is that input's mistake.
  for (const [path, text] of [
    ["issuer", issuer],
    ["subject", subject],
  ] as const) {
    if (hasUnkeptCharacters(text)) {
      throw new TesseraError(
        "invalid_request",
        `The ${path} contains control characters or lone surrogates.`,
        {
          issues: [{ path, message: "must not contain control characters or lone surrogates" }],
        },
      );
    }
  }
  return { provider, issuer, subject };
}

async function userOf(ctx: EngineContext, identity: IdentityRecord): Promise<PublicUser> {
  const user = await fromStore(ctx.store.findUserById(identity.userId));
  // The identity goes with its user in one step, so this is a deletion racing the login.
  if (user === null) throw new TesseraError("invalid_credentials", "This account cannot sign in.");
  return publicUser(user);
}

/** The pre-identity user named by the subject, linked now — if it has no password and no identity. */
async function adopt(
  ctx: EngineContext,
  key: IdentityKey,
  metadata: RequestMetadata,
): Promise<PublicUser | null> {
  let usernameKey: string;
  try {
    usernameKey = normaliseUsername(key.subject).key;
  } catch {
    return null;
  }
  const user: UserRecord | null = await fromStore(ctx.store.findUserByUsernameKey(usernameKey));
  if (user === null || user.passwordHash !== null || user.username.includes(IDENTITY_NAME_MARK)) return null;
  if ((await fromStore(ctx.store.listIdentities(user.id))).length > 0) return null;
  const outcome = await fromStore(ctx.store.linkIdentity({ ...key, userId: user.id, createdAt: ctx.now() }));
  if (outcome.kind === "no_user") return null;
  if (outcome.kind === "linked") recordLink(ctx, "identity_linked", outcome.identity, "adopted", metadata);
  return userOf(ctx, outcome.identity);
}

/** The usernames to try for a new identity's user, readable first. */
function usernamesFor(key: IdentityKey): { display: string; key: string }[] {
  const parts = key.issuer === "" ? [key.provider, key.subject] : [key.provider, key.issuer, key.subject];
  const readable = parts.join(IDENTITY_NAME_MARK);
  const digest = createHash("sha256")
    .update(JSON.stringify([key.provider, key.issuer, key.subject]))
    .digest("base64url")
    .slice(0, 22);
  const hashed = `${key.provider.slice(0, MAX_USERNAME_LENGTH - 24)}${IDENTITY_NAME_MARK}~${digest}`;
  const names: { display: string; key: string }[] = [];
  for (const candidate of [readable, hashed]) {
    try {
      const name = normaliseUsername(candidate);
      // Shown as sent or not at all: a subject that normalisation changes could look like another.
      if (name.display === candidate) names.push(name);
    } catch {
      // Too long or unsafe to show: the hashed form follows.
    }
  }
  return names;
}

function shown(identity: IdentityRecord): LinkedIdentity {
  return {
    provider: identity.provider,
    issuer: identity.issuer,
    subject: identity.subject,
    userId: identity.userId,
    linkedAt: new Date(identity.createdAt).toISOString(),
  };
}
