#!/usr/bin/env node
// Runs before `npm start` and `npm test`: on a fresh clone (no node_modules yet) it installs
// the locked dependencies with `npm ci` first, so the README's two commands are all it takes.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const marker = new URL("../node_modules/.package-lock.json", import.meta.url);
if (!existsSync(marker)) {
  console.error("tessera: node_modules is missing; running `npm ci` (first run only, this takes a minute)…");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["ci"], { stdio: "inherit", cwd: new URL("..", import.meta.url) });
  if (result.status !== 0) {
    console.error("tessera: `npm ci` failed; see the output above.");
    process.exit(result.status ?? 1);
  }
}
