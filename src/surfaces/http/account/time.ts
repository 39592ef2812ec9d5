/**
 * Times on the account pages, rendered on the server in English and UTC — the page's script
 * then shows the reader's own locale and time zone (`sessions-script.ts`), which only the
 * browser knows.
 */

const UNITS: readonly [string, number][] = [
  ["year", 365 * 86_400_000],
  ["month", 30 * 86_400_000],
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
];

/** "5 minutes ago", "in 14 days", "just now". */
export function relativeTime(deltaMs: number): string {
  const size = Math.abs(deltaMs);
  if (size < 60_000) return "just now";
  for (const [unit, ms] of UNITS) {
    if (size >= ms) {
      const count = Math.floor(size / ms);
      const words = `${count} ${unit}${count === 1 ? "" : "s"}`;
      return deltaMs < 0 ? `${words} ago` : `in ${words}`;
    }
  }
  return "just now";
}

/** "2026-12-02 14:51 UTC": to the minute, for a reader without the script. */
export function utcMinute(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
