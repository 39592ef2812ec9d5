/**
 * Request formats besides JSON for a provider's login route (seed 001: "requestbinders for
 * DTO custom deserialization"). A provider lists the media types it accepts
 * (`AuthProvider.contentTypes`); a parser registered here for that type turns the body's
 * text into the value the provider's schema then checks, field by field, exactly as a
 * JSON body is checked. Only that provider's route accepts the type.
 *
 * Built in: `application/x-www-form-urlencoded` (every value a string; a repeated key is
 * refused rather than guessed at). Plugins add others (`bodyParsers`, e.g. XML).
 * Framework-free: a parser sees text, returns a value or throws.
 */
import { TesseraError } from "../errors.js";

/** Turns a body's text into the provider's input; throw for a body that is not of the format. */
export type BodyParser = (text: string) => unknown;

export const FORM_URLENCODED = "application/x-www-form-urlencoded";

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

/** `Application/XML; charset=utf-8` → `application/xml`. */
export function mediaTypeOf(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

function parseForm(text: string): Record<string, string> {
  const fields: Record<string, string> = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    if (key === "__proto__") throw new TypeError("a __proto__ field");
    if (Object.hasOwn(fields, key)) throw new TypeError(`the field ${key} is repeated`);
    fields[key] = value;
  }
  return { ...fields };
}

export class BodyParsers {
  readonly #byType = new Map<string, BodyParser>([[FORM_URLENCODED, parseForm]]);

  register(mediaType: string, parser: BodyParser): void {
    const type = mediaTypeOf(mediaType);
    if (!MEDIA_TYPE.test(type) || type !== mediaType.trim().toLowerCase())
      throw new TypeError(`"${mediaType}" is not a bare media type such as application/xml`);
    if (type === "application/json") throw new TypeError("application/json is always parsed as JSON");
    if (typeof parser !== "function") throw new TypeError(`The parser for ${type} must be a function`);
    if (this.#byType.has(type)) throw new TypeError(`A parser for ${type} is already registered`);
    this.#byType.set(type, parser);
  }

  has(mediaType: string): boolean {
    return this.#byType.has(mediaTypeOf(mediaType));
  }

  /** Parses `text`; a parser's failure is the client's `invalid_request`, never a 500. */
  parse(mediaType: string, text: string): unknown {
    const type = mediaTypeOf(mediaType);
    const parser = this.#byType.get(type);
    if (parser === undefined) throw new TesseraError("invalid_request", `No parser for ${type} bodies.`);
    try {
      return parser(text);
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw new TesseraError("invalid_request", `The body is not valid ${type}.`, { cause: error });
    }
  }
}
