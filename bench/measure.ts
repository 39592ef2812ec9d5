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

async function timed(op: () => unknown, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let count = 0;
  let started = performance.now();
  // Batches keep the clock out of the measurement for sub-microsecond operations.
  const batch = 256;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) {
      const value = op();
      if (value instanceof Promise) await value;
    }
    count += batch;
  }
  const elapsed = performance.now() - started;
  started = 0;
  return (count / elapsed) * 1000;
}

export async function compare(
  title: string,
  candidates: readonly Candidate[],
  options: { rounds?: number; msPerRound?: number } = {},
): Promise<Result[]> {
  const rounds = options.rounds ?? 5;
  const ms = options.msPerRound ?? 300;
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await timed(c.op, 50); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const c of candidates) samples.get(c.name)?.push(await timed(c.op, ms));
  }
  const results = candidates.map((c) => ({ name: c.name, opsPerSecond: median(samples.get(c.name) ?? []) }));
  printTable(title, results);
  return results;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function printTable(title: string, results: readonly Result[], unit = "ops/s"): void {
  const base = results[results.length - 1];
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
