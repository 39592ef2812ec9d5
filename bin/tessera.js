#!/usr/bin/env node
// The `tessera` command: a tiny launcher for the compiled CLI in dist/. `npm run build` also
// bundles it into one file (scripts/bundle-cli.mjs), which starts several times faster; the
// launcher takes the bundle unless tsc has compiled the CLI again since it was made.
import { existsSync, statSync } from "node:fs";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
const bundle = new URL("../dist/src/cli/bundle/tessera.mjs", import.meta.url);
if (!existsSync(entry)) {
  console.error("tessera: the compiled code (dist/) is missing; run `npm run build` first.");
  process.exit(1);
}
const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(entry).mtimeMs;
await import((fresh ? bundle : entry).href);
