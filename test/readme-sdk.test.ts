/**
 * The README's Node script for the client SDK, run as printed: the ```js block of "Browser
 * apps and the client SDK" that imports `ws` is written beside package.json (so that
 * `import "tessera-sessions/client"` resolves to this package's build, as it would for a user) and
 * run with node against a fresh server; each line it prints must match the README's
 * `// →` line in the same position.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./server-kit.js";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;

function nodeSnippet(): string {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("\n## Browser apps and the client SDK");
  if (start < 0) throw new Error("README.md has no 'Browser apps and the client SDK' section");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const block = [...section.matchAll(/```js\n([\s\S]*?)```/g)]
    .map((match) => match[1] ?? "")
    .find((code) => code.includes('from "ws"'));
  if (block === undefined) throw new Error("no Node snippet (a js block importing ws) in the section");
  return block;
}

describe("README: the SDK from a Node script", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer();
    await fetch(`${server.urls.http}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "hero", password: "secret123" }),
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it.skipIf(!existsSync(new URL("../dist/src/client/index.js", import.meta.url)))(
    "prints what the README says",
    async () => {
      const script = nodeSnippet();
      const expected = script
        .split("\n")
        .filter((line) => line.startsWith("// → "))
        .map((line) => line.slice("// → ".length));
      expect(expected.length).toBeGreaterThanOrEqual(3);
      const file = `${ROOT}.readme-sdk-${process.pid}.mjs`;
      writeFileSync(file, script);
      try {
        const { stdout } = await run(process.execPath, [file], {
          env: { PATH: process.env.PATH ?? "", TESSERA_URL: server.urls.http },
          timeout: 30_000,
        });
        expect(stdout.trimEnd().split("\n")).toEqual(expected);
      } finally {
        rmSync(file, { force: true });
      }
    },
  );
});
