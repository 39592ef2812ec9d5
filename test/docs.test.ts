import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";

describe("documentation", () => {
  it("every error code has an entry in docs/errors.md", () => {
    const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    for (const code of ERROR_CODES)
      expect(doc, `docs/errors.md is missing ${code}`).toContain(`| \`${code}\` |`);
  });

  // The contract lives beside the repository (`../shared/contract.md` from its root), not in
  // it: found from this checkout's root, or from the main checkout's when this is a git
  // worktree elsewhere. Skipped only where no copy exists at all (CI's clean clone).
  const contractPath = findContract();
  it.skipIf(!existsSync(contractPath))("every error code of the contract is one of ours", () => {
    const contract = readFileSync(contractPath, "utf8");
    const table = contract.slice(
      contract.indexOf("| code | status |"),
      contract.indexOf("`Authorization: Bearer"),
    );
    const codes = [...table.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]);
    expect(codes.length).toBeGreaterThan(10);
    for (const code of codes) expect(ERROR_CODES).toContain(code);
  });
});

function findContract(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const roots = [root];
  try {
    const common = execFileSync("git", ["rev-parse", "--path-format=absolute", "--git-common-dir"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    roots.push(dirname(common));
  } catch {
    // Not a git checkout: the repository root is all there is.
  }
  const candidates = roots.map((dir) => resolve(dir, "../shared/contract.md"));
  return candidates.find((candidate) => existsSync(candidate)) ?? (candidates[0] as string);
}
