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
    value === null || value === undefined ? "-" : String(value);
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

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
