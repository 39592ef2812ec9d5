/**
 * New users. `register` is self-service (`POST /auth/register`): refused with
 * `registration_closed` when the deployment closed registration, and put to the
 * `beforeRegister` hook. `createUser` is the operator's way (`tessera users add`, an
 * application's admin screen): neither rule applies. Both hash the password with argon2id.
 */
import { randomUUID } from "node:crypto";
import { TesseraError } from "../errors.js";
import { normaliseLocalUsername } from "../passwords/username.js";
import { type EngineContext, fromStore, publicUser } from "./context.js";
import type { PublicUser, RequestMetadata } from "./types.js";

export interface RegisterInput {
  readonly username: string;
  /** Null for users who only ever sign in through a provider. */
  readonly password: string | null;
  /** Where the request came from; given to the `beforeRegister` hook. */
  readonly metadata?: RequestMetadata;
}

export async function register(ctx: EngineContext, input: RegisterInput): Promise<PublicUser> {
  if (ctx.options.registration === "closed") {
    throw new TesseraError("registration_closed", "Registration is closed on this server.");
  }
  const name = normaliseLocalUsername(input.username);
  if (input.password !== null) ctx.hasher.checkPolicy(input.password);
  await ctx.hooks.run("beforeRegister", {
    username: name.display,
    source: "register",
    metadata: input.metadata ?? {},
  });
  return insertUser(ctx, name, input.password);
}

/** An operator creates a user: no registration policy, no `beforeRegister` hook. */
export async function createUser(ctx: EngineContext, input: RegisterInput): Promise<PublicUser> {
  const name = normaliseLocalUsername(input.username);
  if (input.password !== null) ctx.hasher.checkPolicy(input.password);
  return insertUser(ctx, name, input.password);
}

async function insertUser(
  ctx: EngineContext,
  name: { readonly display: string; readonly key: string },
  password: string | null,
): Promise<PublicUser> {
  // Cheap refusal first; the unique key still decides a race below.
  if ((await fromStore(ctx.store.findUserByUsernameKey(name.key))) !== null) throw taken();
  const passwordHash = password === null ? null : await ctx.hasher.hash(password);
  const user = await fromStore(
    ctx.store.createUser({
      uuid: randomUUID(),
      username: name.display,
      usernameKey: name.key,
      passwordHash,
      createdAt: ctx.now(),
    }),
  );
  if (user === null) throw taken();
  return publicUser(user);
}

function taken(): TesseraError {
  return new TesseraError("username_taken", "That username is already taken.", {
    issues: [{ path: "username", message: "is already taken" }],
  });
}
