/**
 * The package as a user installs it: `npm pack` of this repository, installed into a fresh
 * application in a temporary directory, and from there the README's embedding example, an
 * Express guard and `npx tessera serve --help`. The install prefers npm's cache (filled by
 * `npm ci`; only the registry's metadata is fetched) and skips install scripts; the one
 * native build the package needs, better-sqlite3's, is copied from this repository's
 * install, as a prebuilt binary would be downloaded.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/** The first ```ts block after `heading` in the README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const match = section.match(/```ts\n([\s\S]*?)```/);
  if (match?.[1] === undefined) throw new Error(`no ts block after ${heading} in README.md`);
  return match[1];
}

describe("the packed package", { timeout: 180_000 }, () => {
  let dir: string;
  let app: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tessera-pack-"));
    app = join(dir, "app");
    // dist/ is built by `npm ci` (prepare); --ignore-scripts packs it as it is.
    const packed = await run(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
      cwd: ROOT,
    });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    cpSync(join(ROOT, "test", "fixtures", "pack-app"), app, { recursive: true });
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({
        name: "pack-app",
        private: true,
        type: "module",
        dependencies: {
          "tessera-sessions": `file:${join(dir, filename)}`,
          express: pkg.devDependencies.express,
        },
      }),
    );
    await run(
      NPM,
      ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel", "error"],
      { cwd: app, env: { ...process.env, npm_config_update_notifier: "false" } },
    );
    cpSync(
      join(ROOT, "node_modules", "better-sqlite3", "build"),
      join(app, "node_modules", "better-sqlite3", "build"),
      { recursive: true },
    );
    writeFileSync(join(app, "embed.mjs"), readmeBlock("## Library"));
  }, 180_000);

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("holds the compiled code, its types, the CLI and the proto, and no tests or sources", () => {
    const installed = join(app, "node_modules", "tessera-sessions");
    for (const file of ["dist/src/index.js", "dist/src/index.d.ts", "bin/tessera.js", "LICENSE"]) {
      expect(existsSync(join(installed, file)), file).toBe(true);
    }
    expect(existsSync(join(installed, "proto", "tessera", "v1", "session_service.proto"))).toBe(true);
    expect(existsSync(join(installed, "src"))).toBe(false);
    expect(readdirSync(join(installed, "dist")).sort()).toEqual(["src"]);
  });

  it("runs the README's embedding example", async () => {
    const { stdout, stderr } = await run(process.execPath, ["embed.mjs"], { cwd: app });
    expect(stderr).toBe("");
    expect(stdout).toBe("");
    expect(existsSync(join(app, "data", "tessera.db"))).toBe(true);
  });

  it("guards an Express route with the installed tessera-sessions/express", async () => {
    const { stdout } = await run(process.execPath, ["express-guard.mjs"], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({
      anonymous: 401,
      code: "token_invalid",
      signedIn: 200,
      username: "ada",
    });
  });

  it("answers `npx tessera serve --help` with the settings", async () => {
    const { stdout } = await run("npx", ["--no-install", "tessera", "serve", "--help"], { cwd: app });
    expect(stdout).toMatch(/Usage: tessera serve/);
    expect(stdout).toContain("--store <kind>");
    expect(stdout).toContain("TESSERA_REDIS_URL");
  });
});
