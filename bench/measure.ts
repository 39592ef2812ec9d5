/**
 * A small benchmarking helper: runs each candidate in interleaved rounds (so a noisy
 * neighbour hurts all of them alike), reports the median ops/s, and prints ratios against
 * a baseline. Results are figures for people, never assertions.
 */
export interface Candidate {
  readonly name: string;
  /** One operation. May be async. */
  readonly op: () => unknown;
}

export interface Result {
  readonly name: string;
  readonly opsPerSecond: number;
}

/**
 * Which clock divides the count: `wall` (elapsed time) or `cpu` (this process's CPU time,
 * every thread). On a shared machine the CPU clock keeps a neighbour's load out of the
 * figure of a CPU-bound, in-process operation; it does not suit anything that waits.
 */
export type Clock = "wall" | "cpu";

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export async function timed(op: () => unknown, ms: number, clock: Clock = "wall"): Promise<number> {
  const end = performance.now() + ms;
  let count = 0;
  const startedWall = performance.now();
  const startedCpu = clock === "cpu" ? cpuMicros() : 0;
  // Batches keep the clock out of the measurement for sub-microsecond operations.
  const batch = 256;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) {
      const value = op();
      if (value instanceof Promise) await value;
    }
    count += batch;
  }
  const elapsedMs = clock === "cpu" ? (cpuMicros() - startedCpu) / 1000 : performance.now() - startedWall;
  return (count / elapsedMs) * 1000;
}

export async function compare(
  title: string,
  candidates: readonly Candidate[],
  options: { rounds?: number; msPerRound?: number; clock?: Clock } = {},
): Promise<Result[]> {
  const rounds = options.rounds ?? 5;
  const ms = options.msPerRound ?? 300;
  const clock = options.clock ?? "wall";
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await timed(c.op, 50, clock); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const c of candidates) samples.get(c.name)?.push(await timed(c.op, ms, clock));
  }
  const results = candidates.map((c) => ({ name: c.name, opsPerSecond: median(samples.get(c.name) ?? []) }));
  printTable(title, results, clock === "cpu" ? "ops per CPU-second" : "ops/s");
  return results;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** One printed table, as the results file keeps it. */
/**
 * The `p`th percentile (0–100) of `values`, by nearest rank; no samples is an error, not a
 * figure, so a measurement that never happened cannot print as 0 or NaN.
 */
export function percentile(values: readonly number[], p: number, what: string): number {
  if (values.length === 0) throw new Error(`${what}: no samples, no percentile`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export interface Table {
  readonly title: string;
  readonly unit: string;
  readonly rows: readonly { readonly name: string; readonly value: number; readonly ratio: number }[];
}

/** What a section printed: its tables and its summary lines (targets and how they fared). */
export interface SectionRecord {
  tables: Table[];
  notes: string[];
}

let current: SectionRecord = { tables: [], notes: [] };

/** Starts collecting a new section's tables and notes (the runner calls it). */
export function beginSection(): SectionRecord {
  current = { tables: [], notes: [] };
  return current;
}

/** Prints a summary line (a ratio against its target) and keeps it for the results file. */
export function note(line: string): void {
  console.log(`\n${line}`);
  current.notes.push(line);
}

/** The result named `name`, for ratios between rows. */
export function pick(results: readonly Result[], name: string): number {
  return results.find((r) => r.name === name)?.opsPerSecond ?? Number.NaN;
}

/** `a / b` with two decimals and a target verdict. */
export function ratioLine(
  label: string,
  a: number,
  b: number,
  target: string,
  met: (ratio: number) => boolean,
): string {
  const ratio = a / b;
  return `${label}: ${ratio.toFixed(2)}× (target ${target}: ${met(ratio) ? "met" : "NOT met"})`;
}

export function printTable(title: string, results: readonly Result[], unit = "ops/s"): void {
  const base = results[results.length - 1];
  current.tables.push({
    title,
    unit,
    rows: results.map((r) => ({
      name: r.name,
      value: Math.round(r.opsPerSecond * 100) / 100,
      ratio:
        base && base.opsPerSecond > 0 ? Math.round((r.opsPerSecond / base.opsPerSecond) * 1000) / 1000 : 0,
    })),
  });
  console.log(`\n## ${title}`);
  console.log(`| candidate | ${unit} | ratio to "${base?.name}" |`);
  console.log("| --- | ---: | ---: |");
  for (const r of results) {
    const ratio = base && base.opsPerSecond > 0 ? r.opsPerSecond / base.opsPerSecond : Number.NaN;
    console.log(`| ${r.name} | ${format(r.opsPerSecond)} | ${ratio.toFixed(2)}× |`);
  }
}

export function format(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
