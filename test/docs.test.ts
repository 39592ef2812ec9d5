import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";

describe("documentation", () => {
  it("every error code has an entry in docs/errors.md", () => {
    const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    for (const code of ERROR_CODES)
      expect(doc, `docs/errors.md is missing ${code}`).toContain(`| \`${code}\` |`);
  });

  // The contract lives beside the repository (../shared), not in it; a bare clone has no copy.
  const contractPath = new URL("../../shared/contract.md", import.meta.url);
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
