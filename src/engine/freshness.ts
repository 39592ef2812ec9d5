/**
 * Freshness: a route or call may demand that the user proved who they are recently
 * (`maxAge`, seconds since the session's `authenticatedAt`), as for changing an e-mail
 * address or paying. A stale session is not refused as a bad credential — it is still
 * signed in — but with `reauthentication_required` (403), so that a client asks for the
 * password (`POST /auth/reauthenticate`) rather than signing the user out. Freshness counts
 * proofs, never activity: using a session does not make it fresh (better-auth #7472).
 */
import { TesseraError } from "../errors.js";
import type { Session } from "./types.js";

/** Options of `Tessera.validate` and of the guards. */
export interface FreshnessOptions {
  /**
   * Refuse with `reauthentication_required` when the user last proved who they are more
   * than this many seconds ago. @default no demand
   */
  readonly maxAge?: number;
}

/** Throws `reauthentication_required` when `session` is older than `maxAge`; a bad `maxAge` is a `TypeError`. */
export function checkFreshness(session: Session, maxAge: number | undefined, now: number): void {
  if (maxAge === undefined) return;
  if (typeof maxAge !== "number" || !Number.isFinite(maxAge) || maxAge < 0) {
    throw new TypeError(`maxAge must be a number of seconds, zero or more, not ${String(maxAge)}`);
  }
  if (now - Date.parse(session.authenticatedAt) > maxAge * 1000) {
    throw new TesseraError(
      "reauthentication_required",
      "This needs a recent sign-in: prove who you are again (POST /auth/reauthenticate).",
    );
  }
}
