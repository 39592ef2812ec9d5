/**
 * A JWT segment's JSON object: `JSON.parse`, with a fast path for the one claims layout
 * Tessera signs (`signAccessToken`'s members, in its order, strings without escapes,
 * integer times). A payload in that layout is read by one regular expression into an
 * object built at once, about half the cost of `JSON.parse` of the same text; anything else
 * — whitespace, escapes, another order, another member, a fraction — goes to `JSON.parse`.
 * The fast path accepts only text that is valid JSON and gives what `JSON.parse` gives,
 * members in the same order (property-tested in claims-json.test.ts).
 */

/** A JSON string with no escape and no control character: its text is its value. */
const STRING = String.raw`"([^"\\\x00-\x1f]*)"`;
/** A JSON integer of at most 15 digits: exactly a double, as `JSON.parse` reads it. */
const INTEGER = "(0|[1-9][0-9]{0,14})";
const STRING_OR_NULL = `(?:${STRING}|null)`;

/** `signAccessToken`'s claims, as `JSON.stringify` writes them. */
const LAYOUT = new RegExp(
  `^\\{"iss":${STRING},"sub":${STRING},"sid":${STRING},"jti":${STRING},"iat":${INTEGER},"exp":${INTEGER},` +
    `"username":${STRING}(?:,"aud":${STRING})?` +
    `(,"metadata":\\{"user_agent":${STRING_OR_NULL},"ip_address":${STRING_OR_NULL}\\})?\\}$`,
);

/**
 * The claims, when `text` is in Tessera's own layout; undefined otherwise. Each of the four
 * shapes is one literal (members added one by one would move the object through hidden
 * classes and out of its in-object slots).
 */
export function claimsInLayout(text: string): Record<string, unknown> | undefined {
  const m = LAYOUT.exec(text);
  if (m === null) return undefined;
  const iss = m[1];
  const sub = m[2];
  const sid = m[3];
  const jti = m[4];
  const iat = Number(m[5]);
  const exp = Number(m[6]);
  const username = m[7];
  const aud = m[8];
  if (m[9] === undefined) {
    return aud === undefined
      ? { iss, sub, sid, jti, iat, exp, username }
      : { iss, sub, sid, jti, iat, exp, username, aud };
  }
  const metadata = { user_agent: m[10] ?? null, ip_address: m[11] ?? null };
  return aud === undefined
    ? { iss, sub, sid, jti, iat, exp, username, metadata }
    : { iss, sub, sid, jti, iat, exp, username, aud, metadata };
}

/** The JSON object `text` holds, or null when it holds anything else or is not JSON. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** A payload's claims object: the layout's fast path, else `JSON.parse`. */
export function parseClaims(text: string): Record<string, unknown> | null {
  return claimsInLayout(text) ?? parseJsonObject(text);
}
