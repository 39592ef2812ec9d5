/**
 * Issue 14: what importing each entry point of the package costs a fresh process — wall
 * time of the import and the memory it adds (RSS and V8 heap), median of several fresh
 * processes each, against the floor of importing nothing (`node:fs`). Run on the compiled
 * package in dist/, as an installed application would load it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { median, note, printTable } from "./measure.js";

const RUNS = 7;

interface Cost {
  readonly ms: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
}

function costOf(specifier: string): Cost {
  const script = [
    "const before = process.memoryUsage();",
    "const started = performance.now();",
    `await import(${JSON.stringify(specifier)});`,
    "const ms = performance.now() - started;",
    "const after = process.memoryUsage();",
    "console.log(JSON.stringify({ ms, rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed }));",
  ].join("\n");
  const samples: { ms: number; rss: number; heap: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    samples.push(
      JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ms: number; rss: number; heap: number },
    );
  }
  const mib = (bytes: number) => bytes / 1024 / 1024;
  return {
    ms: median(samples.map((sample) => sample.ms)),
    rssMiB: mib(median(samples.map((sample) => sample.rss))),
    heapMiB: mib(median(samples.map((sample) => sample.heap))),
  };
}

export async function benchImports(): Promise<void> {
  const root = process.cwd();
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    exports: Record<string, { default: string }>;
  };
  const rows: { name: string; cost: Cost }[] = [];
  for (const [entry, target] of Object.entries(pkg.exports)) {
    const file = join(root, target.default);
    if (!existsSync(file)) continue;
    const name = entry === "." ? "tessera-sessions" : `tessera-sessions/${entry.slice(2)}`;
    rows.push({ name, cost: costOf(`file://${file}`) });
  }
  rows.push({ name: "floor: node:fs", cost: costOf("node:fs") });
  printTable(
    "import time of each entry point (fresh process, median)",
    rows.map((row) => ({ name: row.name, opsPerSecond: row.cost.ms })),
    "ms",
  );
  printTable(
    "memory an import adds (RSS, fresh process, median)",
    rows.map((row) => ({ name: row.name, opsPerSecond: row.cost.rssMiB })),
    "MiB",
  );
  const rootRow = rows.find((row) => row.name === "tessera-sessions");
  if (rootRow !== undefined) {
    note(
      `package root: ${rootRow.cost.ms.toFixed(0)} ms to import, +${rootRow.cost.rssMiB.toFixed(1)} MiB RSS, +${rootRow.cost.heapMiB.toFixed(1)} MiB heap (no native module, no database client, no gRPC: test/package-shape.test.ts)`,
    );
  }
}
