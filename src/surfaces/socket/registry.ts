/**
 * `ConnectionRegistry`: which live connections hold which session, and the instant
 * revocation behind the contract's "within 100 ms". It subscribes to the engine's events,
 * which fire for every revocation made in this process (HTTP, gRPC, the library) and, via
 * the store's event feed, in any other process sharing the store (the CLI); each
 * `session_ended` closes every socket of that session at once.
 *
 * Close reason: always `token_revoked`, whatever ended the session (logout, logout_all,
 * revoked, device_replaced, refresh_token_reused, …). The contract's reasons are the error
 * code *the socket's credential* would now get, and a session token of an ended session is
 * refused with `token_revoked`; `refresh_token_reused` is what the presenter of the reused
 * refresh token is told, and that may be a different client (the thief).
 *
 * A store that ends all of a user's sessions in one step (`user_sessions_ended`) closes
 * every socket of that user but the kept session's, through the per-user index.
 *
 * Ended session ids are remembered for a while, so a connection that finishes
 * authenticating just after its session ended (the event raced the validation) is closed
 * too instead of living on. A feed reset (events may have been missed) re-reads every
 * registered session and closes those that ended.
 */
import type { EngineEvent } from "../../engine/context.js";
import type { Tessera } from "../../engine/tessera.js";
import type { Session } from "../../engine/types.js";
import { TesseraError } from "../../errors.js";

/** What the registry needs of a connection. */
export interface RegisteredConnection {
  end(error: TesseraError): void;
  updateSession(session: Session): void;
}

/** How long an ended session id is remembered; longer than any authentication takes. */
const ENDED_MEMORY_MS = 60_000;

export class ConnectionRegistry {
  readonly #tessera: Tessera;
  readonly #bySession = new Map<string, Set<RegisteredConnection>>();
  readonly #sessionsByUser = new Map<number, Set<string>>();
  readonly #userOfSession = new Map<string, number>();
  readonly #ended = new Map<string, number>();
  readonly #unsubscribe: () => void;
  #count = 0;

  constructor(tessera: Tessera) {
    this.#tessera = tessera;
    this.#unsubscribe = tessera.subscribe((event) => this.#onEvent(event));
  }

  /** Adds an authenticated connection. Returns false (and adds nothing) if its session has just ended. */
  add(sessionId: string, userId: number, connection: RegisteredConnection): boolean {
    if (this.#ended.has(sessionId)) return false;
    let set = this.#bySession.get(sessionId);
    if (set === undefined) {
      set = new Set();
      this.#bySession.set(sessionId, set);
      let sessions = this.#sessionsByUser.get(userId);
      if (sessions === undefined) {
        sessions = new Set();
        this.#sessionsByUser.set(userId, sessions);
      }
      sessions.add(sessionId);
      this.#userOfSession.set(sessionId, userId);
    }
    if (!set.has(connection)) {
      set.add(connection);
      this.#count += 1;
    }
    return true;
  }

  remove(sessionId: string, connection: RegisteredConnection): void {
    const set = this.#bySession.get(sessionId);
    if (set === undefined || !set.delete(connection)) return;
    this.#count -= 1;
    if (set.size > 0) return;
    this.#bySession.delete(sessionId);
    const userId = this.#userOfSession.get(sessionId);
    this.#userOfSession.delete(sessionId);
    if (userId === undefined) return;
    const sessions = this.#sessionsByUser.get(userId);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) this.#sessionsByUser.delete(userId);
  }

  /** Authenticated connections currently registered. */
  get size(): number {
    return this.#count;
  }

  close(): void {
    this.#unsubscribe();
  }

  #onEvent(event: EngineEvent): void {
    switch (event.type) {
      case "session_ended":
        this.#endSession(event.sessionId);
        return;
      case "user_sessions_ended":
        for (const sessionId of [...(this.#sessionsByUser.get(event.userId) ?? [])]) {
          if (sessionId !== event.keepSessionId) this.#endSession(sessionId);
        }
        return;
      case "session_updated":
        void this.#reloadSession(event.sessionId);
        return;
      case "user_updated":
        return;
      case "reset":
        for (const sessionId of [...this.#bySession.keys()]) void this.#recheckSession(sessionId);
        return;
      default:
        event satisfies never;
    }
  }

  #endSession(sessionId: string): void {
    const now = Date.now();
    for (const [id, at] of this.#ended) {
      if (now - at < ENDED_MEMORY_MS) break; // insertion order is time order
      this.#ended.delete(id);
    }
    this.#ended.delete(sessionId);
    this.#ended.set(sessionId, now);
    const set = this.#bySession.get(sessionId);
    if (set === undefined) return;
    const error = new TesseraError("token_revoked", "The session has ended.");
    for (const connection of [...set]) connection.end(error);
  }

  /** After a feed reset: the store says whether the session still lives. */
  async #recheckSession(sessionId: string): Promise<void> {
    const live = await this.#tessera.isSessionLive(sessionId).catch(() => true);
    if (!live) this.#endSession(sessionId);
  }

  /** The application changed the session's `data`: one store read per session, not per message. */
  async #reloadSession(sessionId: string): Promise<void> {
    if (!this.#bySession.has(sessionId)) return;
    const session = await this.#tessera.getSession(sessionId).catch(() => null);
    if (session === null) return;
    for (const connection of this.#bySession.get(sessionId) ?? []) connection.updateSession(session);
  }
}
