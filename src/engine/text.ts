/**
 * Text the engine keeps as a name or a key (identity subjects and issuers, device ids and
 * names): no control characters, and no UTF-16 surrogate that pairs with nothing. Every store
 * would keep such text differently, or not at all — PostgreSQL's `text` refuses NUL (the
 * write fails, and the client would be told the store is unavailable), and a lone surrogate
 * becomes U+FFFD on the way to UTF-8 there and in SQLite's text, so two different values
 * would be stored as one. Refused up front, they are the client's mistake everywhere.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const UNKEPT = /[\u0000-\u001f\u007f]|\p{Cs}/u;

/** True when `text` holds a control character or a lone surrogate. */
export function hasUnkeptCharacters(text: string): boolean {
  return UNKEPT.test(text);
}
