/** Registration: a new user with an argon2id password hash. */
import { randomUUID } from "node:crypto";
import { TesseraError } from "../errors.js";
import { normaliseUsername } from "../passwords/username.js";
import { type EngineContext, fromStore, publicUser } from "./context.js";
import type { PublicUser } from "./types.js";

export interface RegisterInput {
  readonly username: string;
  /** Null for users who only ever sign in through a provider. */
  readonly password: string | null;
}

export async function register(ctx: EngineContext, input: RegisterInput): Promise<PublicUser> {
  const name = normaliseUsername(input.username);
  if (input.password !== null) ctx.hasher.checkPolicy(input.password);
  // Cheap refusal first; the unique key still decides a race below.
  if ((await fromStore(ctx.store.findUserByUsernameKey(name.key))) !== null) throw taken();
  const passwordHash = input.password === null ? null : await ctx.hasher.hash(input.password);
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
