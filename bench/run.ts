/**
 * `npm run bench`: every benchmark of the project, printed as Markdown tables with ratios,
 * and written to `bench/results/latest.json` and `bench/results/latest.md`.
 * `npm run bench -- validate` runs only the sections whose name contains "validate" (the
 * results file keeps the other sections from their last run).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { benchBetterAuth } from "./better-auth.js";
import { benchCluster } from "./cluster.js";
import { benchGrpc } from "./grpc.js";
import { benchHttp } from "./http.js";
import { benchImports } from "./imports.js";
import { benchJwt } from "./jwt.js";
import { benchLinks } from "./links.js";
import { beginSection, type SectionRecord } from "./measure.js";
import { benchMemory } from "./memory.js";
import { benchRevocation } from "./revocation.js";
import { benchSockets } from "./sockets.js";
import { benchStartup } from "./startup.js";
import { benchStores } from "./stores.js";
import { benchStoresPostgres } from "./stores-postgres.js";
import { benchValidate } from "./validate.js";

const sections: Record<string, () => Promise<void>> = {
  validate: benchValidate,
  jwt: benchJwt,
  "better-auth": benchBetterAuth,
  links: benchLinks,
  grpc: benchGrpc,
  http: benchHttp,
  sockets: benchSockets,
  "sockets-revocation": benchRevocation,
  cluster: benchCluster,
  stores: benchStores,
  imports: benchImports,
  memory: benchMemory,
  startup: benchStartup,
  "stores-postgres": benchStoresPostgres,
};

interface SavedSection extends SectionRecord {
  readonly ranAt: string;
  readonly node: string;
  readonly cpus: number;
  readonly seconds: number;
}

const filter = process.argv[2];
console.log(`# Tessera benchmarks (node ${process.version}, ${new Date().toISOString()})`);
const dir = join(process.cwd(), "bench", "results");
const jsonPath = join(dir, "latest.json");
const saved: Record<string, SavedSection> = existsSync(jsonPath)
  ? (JSON.parse(readFileSync(jsonPath, "utf8")) as { sections: Record<string, SavedSection> }).sections
  : {};
for (const [name, run] of Object.entries(sections)) {
  if (filter !== undefined && !name.includes(filter)) continue;
  console.log(`\nrunning ${name}…`);
  const record = beginSection();
  const started = performance.now();
  await run();
  saved[name] = {
    ...record,
    ranAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
mkdirSync(dir, { recursive: true });
writeFileSync(jsonPath, `${JSON.stringify({ sections: saved }, null, 2)}\n`);
writeFileSync(join(dir, "latest.md"), markdown(saved));
console.log(`\nresults: ${jsonPath} and latest.md`);

function markdown(all: Record<string, SavedSection>): string {
  const lines = [
    "# Tessera benchmark results",
    "",
    "Written by `npm run bench` (one section: `npm run bench -- <name>`). Ratios come from",
    "interleaved rounds in one run; absolute figures move with the machine's load.",
  ];
  for (const name of Object.keys(sections)) {
    const section = all[name];
    if (section === undefined) continue;
    lines.push(
      "",
      `## ${name}`,
      "",
      `${section.ranAt}, node ${section.node}, ${section.cpus} CPUs, ${section.seconds} s`,
    );
    for (const table of section.tables) {
      const base = table.rows.at(-1)?.name ?? "";
      lines.push(
        "",
        `### ${table.title}`,
        "",
        `| candidate | ${table.unit} | ratio to "${base}" |`,
        "| --- | ---: | ---: |",
      );
      for (const row of table.rows) {
        lines.push(
          `| ${row.name} | ${Math.round(row.value).toLocaleString("en-US")} | ${row.ratio.toFixed(2)}× |`,
        );
      }
    }
    if (section.notes.length > 0) lines.push("", ...section.notes.map((line) => `- ${line}`));
  }
  return `${lines.join("\n")}\n`;
}
