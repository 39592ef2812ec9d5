/**
 * Hooks: the engine's typed, awaited extension points (a closed set of names, as in
 * Fastify's lifecycle). Handlers run in registration order. "Before" hooks may refuse by
 * throwing (the caller gets that `TesseraError`, or `internal_error` for anything else)
 * and nothing is written; a throwing "after" hook makes the engine undo what it made, so
 * no half-made session is left behind.
 */
import { TesseraError } from "../errors.js";
import type { AccessClaims } from "../tokens/jwt.js";
import type { JsonValue, PublicUser, RequestMetadata, Session } from "./types.js";

/**
 * What an upgrade request carries; a `beforeUpgrade` hook may return a changed copy, and
 * the upgrade uses that copy: its `metadata` becomes the upgraded session's.
 */
export interface UpgradeRequest {
  readonly metadata: RequestMetadata;
}

export interface HookPayloads {
  /**
   * A new user is about to be created: by self-registration (`register`, `POST
   * /auth/register`) or by a provider meeting a username (`findOrCreateUser`) or an
   * identity (`resolveIdentity`: `username` is the `provider|issuer|subject` name the user
   * will get) for the first time. Throw to refuse (a `TesseraError` reaches the client as it is,
   * e.g. `forbidden` or `registration_closed`); nothing is written. Not called for
   * `createUser`, the operator's way (`tessera users add`).
   */
  beforeRegister: {
    /** As it will be stored (trimmed, NFKC-normalised). */
    readonly username: string;
    readonly source: "register" | "provider";
    readonly metadata: RequestMetadata;
  };
  /** A user proved who they are; no session exists yet. Throw to refuse the login. */
  login: { readonly user: PublicUser; readonly provider: string; readonly metadata: RequestMetadata };
  /** A session was created (by login, a provider, gRPC or a link). */
  sessionCreated: { readonly session: Session; readonly user: PublicUser; readonly provider: string };
  /** An access JWT is about to become a session token. */
  beforeUpgrade: { readonly claims: AccessClaims; readonly request: UpgradeRequest };
  /** The upgrade happened; return a JSON value to attach it as the session's `data`. */
  afterUpgrade: { readonly session: Session; readonly user: PublicUser };
  /**
   * An upgrade was refused or failed (seed 000's `OnUpgradeFailed`): `error` is what the
   * caller gets; `claims` are absent when the token did not verify. For logging and
   * alerting: errors here are reported, never thrown, and never change the answer.
   */
  upgradeFailed: {
    readonly error: TesseraError;
    readonly claims: AccessClaims | null;
    readonly request: UpgradeRequest;
  };
  /** A refresh token was rotated (not called for grace-window repeats). */
  refresh: { readonly session: Session; readonly user: PublicUser };
  /** Sessions ended. Errors here are reported, not thrown: the revocation stands. */
  revoke: { readonly sessionIds: readonly string[]; readonly reason: string };
}

export interface HookResults {
  beforeRegister: undefined;
  login: undefined;
  sessionCreated: undefined;
  beforeUpgrade: UpgradeRequest | undefined;
  afterUpgrade: JsonValue | undefined;
  upgradeFailed: undefined;
  refresh: undefined;
  revoke: undefined;
}

export type HookName = keyof HookPayloads;

export type HookHandler<N extends HookName> = (
  payload: HookPayloads[N],
  // `void` lets a handler that returns nothing (`() => {}`, `async () => {}`) type-check.
  // biome-ignore lint/suspicious/noConfusingVoidType: see above
) => HookResults[N] | void | Promise<HookResults[N] | void>;

type HandlerLists = { [N in HookName]: HookHandler<N>[] };

export class Hooks {
  readonly #handlers: HandlerLists = {
    beforeRegister: [],
    login: [],
    sessionCreated: [],
    beforeUpgrade: [],
    afterUpgrade: [],
    upgradeFailed: [],
    refresh: [],
    revoke: [],
  };

  add<N extends HookName>(name: N, handler: HookHandler<N>): () => void {
    const list = this.#handlers[name] as HookHandler<N>[];
    list.push(handler);
    return () => {
      const at = list.indexOf(handler);
      if (at >= 0) list.splice(at, 1);
    };
  }

  has(name: HookName): boolean {
    return this.#handlers[name].length > 0;
  }

  /**
   * Runs every handler of `name`; returns the last non-undefined result. A handler's
   * `TesseraError` passes through; anything else becomes `internal_error` naming the hook.
   */
  async run<N extends HookName>(name: N, payload: HookPayloads[N]): Promise<HookResults[N] | undefined> {
    let result: HookResults[N] | undefined;
    for (const handler of this.#handlers[name] as HookHandler<N>[]) {
      try {
        const value = await handler(payload);
        if (value !== undefined) result = value as HookResults[N];
      } catch (error) {
        if (error instanceof TesseraError) throw error;
        throw new TesseraError("internal_error", `The ${name} hook failed.`, { cause: error });
      }
    }
    return result;
  }
}
