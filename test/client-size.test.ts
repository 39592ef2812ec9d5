/**
 * The SDK's size budget (issue 12: peers weigh 13–28 kB; be far smaller). Bundled with
 * esbuild for the browser, minified, then gzipped; the figures are printed on every run.
 * Zero runtime dependencies is checked here too: the bundle may contain only src/client
 * (plus erased type imports) — anything else esbuild pulled in shows up in `inputs`.
 */
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

/** Minified + gzipped bytes the SDK may weigh. */
const BUDGET_GZIP_BYTES = 5 * 1024;

describe("the client SDK bundle", () => {
  it("stays within its size budget, minified and gzipped, with nothing but its own files inside", async () => {
    const result = await build({
      entryPoints: [new URL("../src/client/index.ts", import.meta.url).pathname],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(
      `tessera/client: ${code.length} B minified, ${gzipped} B gzipped (budget ${BUDGET_GZIP_BYTES} B)`,
    );
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((path) => !path.startsWith("src/client/"))).toEqual([]);
    expect(gzipped).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });
});
