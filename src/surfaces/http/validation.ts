/**
 * Request bodies are checked with zod before the engine sees them; a failure becomes
 * `invalid_request` with one `{path, message}` issue per wrong field, so a client can show
 * the message beside the field. Schemas are `.strict()`: an unknown field is refused, not
 * ignored, so a typo (`passwrod`) is reported instead of silently dropped.
 */
import type * as z from "zod";
import { type FieldIssue, TesseraError } from "../../errors.js";

export function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues: FieldIssue[] = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));
  const first = issues[0];
  throw new TesseraError(
    "invalid_request",
    first === undefined ? `Invalid ${what}.` : `Invalid ${what}: ${first.path}: ${first.message}.`,
    { issues },
  );
}
