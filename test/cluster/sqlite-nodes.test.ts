/**
 * Three `tessera serve` processes on one SQLite file: the single-host deployment, where
 * processes share changes through the database's events table.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeMultiNode } from "./multi-node.js";

describeMultiNode("one SQLite file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-shared-sqlite-"));
  return {
    port: null,
    nodeArgs: () => ["--database", join(dir, "tessera.db")],
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
