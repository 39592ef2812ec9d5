/**
 * Username normalisation. Usernames are trimmed and NFKC-normalised for display, and
 * case-folded for uniqueness, so "Hero", " hero" and "ＨＥＲＯ" (full-width) are one user.
 */
import { TesseraError } from "../errors.js";

export const MAX_USERNAME_LENGTH = 64;

export interface NormalisedUsername {
  /** What is stored and shown. */
  readonly display: string;
  /** The uniqueness key. */
  readonly key: string;
}

// Control characters, and the invisible format characters that make look-alike names.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/;

const LONE_SURROGATE = /\p{Cs}/u;

export function normaliseUsername(raw: string): NormalisedUsername {
  const display = raw.normalize("NFKC").trim();
  if (display.length === 0) {
    throw new TesseraError("invalid_request", "The username is empty.", {
      issues: [{ path: "username", message: "must not be empty" }],
    });
  }
  if (display.length > MAX_USERNAME_LENGTH) {
    throw new TesseraError(
      "invalid_request",
      `The username is longer than ${MAX_USERNAME_LENGTH} characters.`,
      {
        issues: [{ path: "username", message: `must be at most ${MAX_USERNAME_LENGTH} characters` }],
      },
    );
  }
  if (FORBIDDEN.test(display)) {
    throw new TesseraError("invalid_request", "The username contains control or invisible characters.", {
      issues: [{ path: "username", message: "must not contain control or invisible characters" }],
    });
  }
  return { display, key: display.toLocaleLowerCase("und").normalize("NFKC") };
}

/**
 * Marks the usernames Tessera makes for provider identities (`signed-payload|acme|alice`):
 * no name chosen locally may contain it, so a partner's user can never be given, or be
 * mistaken for, a local user's name.
 */
export const IDENTITY_NAME_MARK = "|";

/**
 * A name for a local account (registration, `tessera users add`, a provider's
 * `findOrCreateUser`): normalised as every username is, and without `IDENTITY_NAME_MARK`.
 * Names made before the rule existed keep working: logins only normalise.
 */
export function normaliseLocalUsername(raw: string): NormalisedUsername {
  const name = normaliseUsername(raw);
  // A surrogate that pairs with nothing is no character: PostgreSQL and SQLite store it as
  // U+FFFD (or bytes that are not UTF-8), so two such names would be one user, or shown
  // unlike what was registered.
  if (LONE_SURROGATE.test(name.display)) {
    throw new TesseraError("invalid_request", "The username contains control or invisible characters.", {
      issues: [{ path: "username", message: "must not contain control or invisible characters" }],
    });
  }
  if (name.display.includes(IDENTITY_NAME_MARK)) {
    throw new TesseraError("invalid_request", `The username must not contain "${IDENTITY_NAME_MARK}".`, {
      issues: [
        {
          path: "username",
          message: `must not contain "${IDENTITY_NAME_MARK}" (it marks the names of provider identities)`,
        },
      ],
    });
  }
  return name;
}
