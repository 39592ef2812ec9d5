/**
 * The README's walkthrough, run exactly as printed: every ```sh block under "## Walkthrough"
 * goes to bash against a fresh server (its address in `TESSERA_URL`, which the README's
 * first block reads), and each line the script prints must match the README's `# →` line in
 * the same position (`…` matching anything).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./server-kit.js";

const run = promisify(execFile);

function walkthrough(): { script: string; expected: string[] } {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("\n## Walkthrough");
  if (start < 0) throw new Error("README.md has no '## Walkthrough' section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
  const script = blocks.join("\n");
  const expected = script
    .split("\n")
    .filter((line) => line.startsWith("# → "))
    .map((line) => line.slice("# → ".length));
  return { script, expected };
}

function pattern(expected: string): RegExp {
  const escaped = expected.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

describe("README walkthrough", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("has blocks to run and outputs to check", () => {
    const { script, expected } = walkthrough();
    // The README must read the address from the environment, or the test could not point it here.
    expect(script).toContain(["TESSERA_URL=$", "{TESSERA_URL:-http://localhost:3000}"].join(""));
    expect(expected.length).toBeGreaterThanOrEqual(8);
  });

  it("prints what the README says, command by command", async () => {
    const { script, expected } = walkthrough();
    const { stdout } = await run("bash", ["-e", "-o", "pipefail", "-c", script], {
      env: { PATH: process.env.PATH ?? "", TESSERA_URL: server.urls.http },
      timeout: 90_000,
    });
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(expected.length);
    expected.forEach((line, i) => {
      expect(lines[i], `output line ${i + 1}`).toMatch(pattern(line));
    });
    // A budget, not a claim: the script starts a dozen Node processes (`json`), each a
    // second or more on a busy 2-core machine.
  }, 100_000);
});
