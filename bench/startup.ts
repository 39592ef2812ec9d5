/**
 * Issue 15, target 5: cold start of `tessera serve` (the compiled binary) to the first 200
 * from `/healthz`, on an existing SQLite data directory, gRPC off — against the floor of a
 * bare `node:http` server answering its first request, started the same way in the same
 * rounds (spawn → the listening line on stdout → the first 200). Median of fresh processes,
 * the two alternating.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveFlags } from "./http.js";
import { median, note, printTable } from "./measure.js";

const RUNS = 7;
const FLOOR = [
  "-e",
  "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log('listening on http://127.0.0.1:' + this.address().port) })",
];

/** Milliseconds from spawning `node args` to the first 200 from `path`; the process is then stopped. */
async function coldStart(args: readonly string[], path: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let errors = "";
  child.stderr.on("data", (chunk: Buffer) => {
    errors += chunk.toString();
  });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        const url = /listening on (http:\/\/[^\s)]+)/.exec(text)?.[1];
        if (url !== undefined) resolve(url);
      });
      child.once("exit", (code) => reject(new Error(`exited with ${code} before listening: ${errors}`)));
    });
    for (;;) {
      const response = await fetch(`${base}${path}`).catch(() => null);
      if (response?.status === 200) break;
    }
    return performance.now() - started;
  } finally {
    child.stdout.resume();
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }
}

export async function benchStartup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-startup-"));
  const serve = [join(process.cwd(), "bin", "tessera.js"), "serve", ...serveFlags(dir)];
  try {
    await coldStart(serve, "/healthz"); // creates the database and the signing key
    const samples = { serve: [] as number[], floor: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      samples.floor.push(await coldStart(FLOOR, "/"));
      samples.serve.push(await coldStart(serve, "/healthz"));
    }
    const serveMs = median(samples.serve);
    const floorMs = median(samples.floor);
    printTable(
      `startup: spawn to the first 200 (fresh process, existing SQLite data directory, --grpc off; median of ${RUNS}, alternating)`,
      [
        { name: "`tessera serve` → GET /healthz", opsPerSecond: serveMs },
        { name: "floor: `node -e` bare node:http server → GET /", opsPerSecond: floorMs },
      ],
      "ms",
    );
    const range = (values: number[]) =>
      `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))} ms`;
    note(
      `cold start to a healthy /healthz: ${Math.round(serveMs)} ms (runs ${range(samples.serve)}; floor ${range(samples.floor)}); target ≤ 400 ms: ${serveMs <= 400 ? "met" : "NOT met"}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
