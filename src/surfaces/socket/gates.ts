/**
 * `GateRegistry`: the application's named message handlers (Altruist's `SessionShield` +
 * `Gate`). Only authenticated connections reach a gate; it receives the session as
 * validated when the socket authenticated (kept in memory, so a message costs no store
 * round trip and no signature check) and the message's `data`, and its return value goes
 * back to the client as a `reply` frame.
 *
 * ```ts
 * const gates = new GateRegistry();
 * gates.register("move", async ({ user, data }) => game.move(user.id, data));
 * ```
 *
 * A handler that throws answers the client with an `error` frame and the socket stays
 * open: a `TesseraError` keeps its code and message, anything else becomes
 * `internal_error` and its stack goes to the log only.
 */
import type { JsonValue, PublicUser, Session } from "../../engine/types.js";
import { MAX_LABEL_LENGTH } from "./frames.js";

export interface GateContext {
  /** The session as of authentication (or the latest refresh, reissue or data change). */
  readonly session: Session;
  readonly user: PublicUser;
  /** The message's `data`; `null` when the client sent none. */
  readonly data: JsonValue;
  /** Unique per connection in this process, for the application's own bookkeeping. */
  readonly connectionId: string;
}

/** A gate's reply must be JSON; `undefined` is sent as `null`. */
export type GateHandler = (context: GateContext) => JsonValue | undefined | Promise<JsonValue | undefined>;

export class GateRegistry {
  readonly #handlers = new Map<string, GateHandler>();

  /** Adds a gate. Registering a name twice is a programming mistake and throws a `TypeError`. */
  register(name: string, handler: GateHandler): this {
    if (typeof name !== "string" || name.length === 0 || name.length > MAX_LABEL_LENGTH) {
      throw new TypeError(`A gate name must be 1 to ${MAX_LABEL_LENGTH} characters.`);
    }
    if (this.#handlers.has(name)) throw new TypeError(`Gate "${name}" is already registered.`);
    this.#handlers.set(name, handler);
    return this;
  }

  get(name: string): GateHandler | undefined {
    return this.#handlers.get(name);
  }

  names(): string[] {
    return [...this.#handlers.keys()];
  }
}
