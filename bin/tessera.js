#!/usr/bin/env node
// The `tessera` command: a tiny launcher for the compiled CLI in dist/.
import { existsSync } from "node:fs";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  console.error("tessera: the compiled code (dist/) is missing; run `npm run build` first.");
  process.exit(1);
}
await import(entry.href);
