/** Prints rows as aligned columns for people, or as JSON with `--json` for scripts. */
import type { CliIO } from "./io.js";

export function printRows(
  io: CliIO,
  rows: readonly Record<string, string | number | null>[],
  options: { readonly json?: boolean; readonly empty: string },
): void {
  if (options.json) {
    io.out(JSON.stringify(rows, null, 2));
    return;
  }
  const first = rows[0];
  if (first === undefined) {
    io.out(options.empty);
    return;
  }
  const columns = Object.keys(first);
  const cell = (value: string | number | null | undefined) =>
    value === null || value === undefined ? "-" : visible(String(value));
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => cell(row[column]).length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  io.out([line(columns), ...rows.map((row) => line(columns.map((column) => cell(row[column]))))].join("\n"));
}

/**
 * Control characters (a newline, an escape sequence that moves the cursor or recolours the
 * terminal) and bidirectional overrides in a value are shown as `\u{…}` escapes: a subject, a
 * device name or a user agent comes from outside, and must not rewrite what the operator
 * sees. `--json` output is escaped by JSON itself.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

export function visible(text: string): string {
  return text.replace(UNSAFE, (char) => `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`);
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
