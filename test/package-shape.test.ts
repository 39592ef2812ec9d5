/**
 * The package's shape as a user meets it: each entry point of `package.json` resolves to a
 * built file, and importing one loads only the packages it needs — the root loads no native
 * module (SQLite, argon2), no Redis or PostgreSQL client and no gRPC; `tessera/sqlite`
 * loads SQLite and nothing of the others. Checked on the compiled package (dist/, built by
 * `npm ci` and `npm run build`) in a fresh Node process with module hooks that record every
 * package an import resolves to.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const HOOKS = join(ROOT, "test", "fixtures", "load-probe-hooks.mjs");
const HEAVY = ["better-sqlite3", "@node-rs/argon2", "redis", "@redis/client", "pg", "@grpc/grpc-js"];

interface PackageJson {
  readonly exports: Record<string, { readonly types: string; readonly default: string }>;
}

/** The packages that importing `entry` (a path in dist/) loads, in a process of its own. */
function packagesLoadedBy(entry: string): string[] {
  return packagesLoadedByScript(`await import(${JSON.stringify(`file://${entry}`)});`);
}

/** The packages that running `body` (an ES module's code) loads, in a process of its own. */
function packagesLoadedByScript(body: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "tessera-probe-"));
  const out = join(dir, "loaded.txt");
  try {
    const script = [
      'import { register } from "node:module";',
      `register(${JSON.stringify(`file://${HOOKS}`)}, { data: { out: ${JSON.stringify(out)} } });`,
      body.replaceAll("$DIR", dir),
    ].join("\n");
    execFileSync(process.execPath, ["--input-type=module", "-e", script], { stdio: "pipe" });
    return existsSync(out) ? [...new Set(readFileSync(out, "utf8").split("\n").filter(Boolean))] : [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the package", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;
  const built = existsSync(join(ROOT, "dist", "src", "index.js"));

  it("is built (npm ci and npm run build compile dist/)", () => {
    expect(built, "dist/ is missing: run `npm run build`").toBe(true);
  });

  it.runIf(built)("points every entry point at a compiled module and its types", () => {
    for (const [name, target] of Object.entries(pkg.exports)) {
      expect(existsSync(join(ROOT, target.default)), `${name} → ${target.default}`).toBe(true);
      expect(existsSync(join(ROOT, target.types)), `${name} → ${target.types}`).toBe(true);
    }
    for (const name of [".", "./sqlite", "./postgres", "./grpc", "./testing", "./client", "./server"]) {
      expect(pkg.exports[name], name).toBeDefined();
    }
  });

  it.runIf(built)("loads no native module, no database client and no gRPC from the root", () => {
    const loaded = packagesLoadedBy(join(ROOT, pkg.exports["."]?.default ?? ""));
    expect(loaded).toContain("jose"); // the probe sees what the root does load
    expect(loaded.filter((name) => HEAVY.includes(name))).toEqual([]);
  });

  it.runIf(built)(
    "loads SQLite, PostgreSQL and gRPC each from its own entry point, and nothing of the others",
    () => {
      const sqlite = packagesLoadedBy(join(ROOT, pkg.exports["./sqlite"]?.default ?? ""));
      expect(sqlite).toContain("better-sqlite3");
      expect(sqlite.filter((name) => HEAVY.includes(name) && name !== "better-sqlite3")).toEqual([]);
      const postgres = packagesLoadedBy(join(ROOT, pkg.exports["./postgres"]?.default ?? ""));
      expect(postgres).toContain("pg");
      expect(postgres.filter((name) => HEAVY.includes(name) && name !== "pg")).toEqual([]);
      const grpc = packagesLoadedBy(join(ROOT, pkg.exports["./grpc"]?.default ?? ""));
      expect(grpc).toContain("@grpc/grpc-js");
      expect(grpc.filter((name) => HEAVY.includes(name) && name !== "@grpc/grpc-js")).toEqual([]);
    },
  );

  it.runIf(built)("starts `tessera serve` with --grpc off without loading gRPC or protobufjs", () => {
    const serve = (grpc: "on" | "off") =>
      packagesLoadedByScript(
        [
          `const { loadConfig } = await import(${JSON.stringify(`file://${join(ROOT, "dist", "src", "server", "config.js")}`)});`,
          `const { startServer } = await import(${JSON.stringify(`file://${join(ROOT, "dist", "src", "server", "start.js")}`)});`,
          `const flags = { dataDir: "$DIR", port: "0", tcpPort: "0", grpcPort: "0", grpc: "${grpc}", logLevel: "silent" };`,
          "const server = await startServer(loadConfig({ flags, env: {} }), { print: () => {} });",
          "await server.close();",
        ].join("\n"),
      );
    const grpcPackages = ["@grpc/grpc-js", "@grpc/proto-loader", "@grpc/reflection", "protobufjs"];
    const off = serve("off");
    expect(off).toContain("fastify"); // the probe sees what serving does load
    expect(off.filter((name) => grpcPackages.includes(name))).toEqual([]);
    expect(serve("on")).toContain("@grpc/grpc-js");
  });

  it.runIf(built)("keeps the browser SDK free of every server package", () => {
    const loaded = packagesLoadedBy(join(ROOT, pkg.exports["./client"]?.default ?? ""));
    expect(loaded).toEqual([]);
  });
});
