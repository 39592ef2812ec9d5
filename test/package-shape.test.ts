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
import { createRequire } from "node:module";
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

/**
 * What running `body` loads, in a process of its own: the packages and URLs its imports
 * resolve to, and the CommonJS modules it left in the cache (the body writes their paths,
 * one a line, to `$DIR/cjs.txt`).
 */
function loadsOfScript(body: string): { packages: string[]; urls: string[]; cjs: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "tessera-probe-"));
  const out = join(dir, "loaded.txt");
  const urlsOut = join(dir, "urls.txt");
  const lines = (file: string) =>
    existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
  try {
    const script = [
      'import { register } from "node:module";',
      `register(${JSON.stringify(`file://${HOOKS}`)}, { data: { out: ${JSON.stringify(out)}, urlsOut: ${JSON.stringify(urlsOut)} } });`,
      body.replaceAll("$DIR", dir),
    ].join("\n");
    execFileSync(process.execPath, ["--input-type=module", "-e", script], { stdio: "pipe" });
    return {
      packages: [...new Set(lines(out))],
      urls: [...new Set(lines(urlsOut))],
      cjs: lines(join(dir, "cjs.txt")),
    };
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

  it.runIf(built)(
    "runs `tessera serve` from the CLI bundle, loading neither gRPC, the other stores' drivers nor Fastify's schema compilers",
    () => {
      const bin = join(ROOT, "bin", "tessera.js");
      const serve = [
        "serve",
        "--data-dir",
        "$DIR",
        "--port",
        "0",
        "--tcp-port",
        "0",
        "--grpc",
        "off",
        "--log-level",
        "silent",
      ];
      const loaded = loadsOfScript(
        [
          'import { createRequire } from "node:module";',
          'import { writeFileSync } from "node:fs";',
          `process.argv = ${JSON.stringify([process.execPath, bin, ...serve])};`,
          // Resolves once the server listens: bin/tessera.js awaits the CLI, which awaits the start.
          `await import(${JSON.stringify(`file://${bin}`)});`,
          'writeFileSync("$DIR/cjs.txt", Object.keys(createRequire(import.meta.url).cache).join("\\n"));',
          'process.kill(process.pid, "SIGTERM");',
        ].join("\n"),
      );
      expect(loaded.urls).toContain(`file://${join(ROOT, "dist", "src", "cli", "bundle", "tessera.mjs")}`);
      expect(
        loaded.urls.filter((url) => url.includes("/dist/src/") && !url.includes("/dist/src/cli/bundle/")),
      ).toEqual([]);
      expect(loaded.packages).toContain("better-sqlite3");
      const elsewhere = ["@grpc/grpc-js", "@grpc/proto-loader", "protobufjs", "pg", "redis", "@redis/client"];
      expect(loaded.packages.filter((name) => elsewhere.includes(name))).toEqual([]);
      // Fastify's schema compilers and semver wait behind stand-ins that nothing called.
      expect(loaded.cjs.some((path) => path.includes("/better-sqlite3/"))).toBe(true);
      expect(
        loaded.cjs.filter((path) => /\/lazy\/|\/node_modules\/(ajv|fast-json-stringify|semver)\//.test(path)),
      ).toEqual([]);
    },
  );

  it.runIf(built)("keeps Fastify's schema compilers and semver in the bundle's lazy/ files, working", () => {
    const lazy = createRequire(join(ROOT, "dist", "src", "cli", "bundle", "tessera.mjs"));
    const compilers = lazy("./lazy/schema-compilers.cjs");
    const validate = compilers["@fastify/ajv-compiler"]()({}, { customOptions: {}, plugins: [] })({
      schema: { type: "integer" },
    });
    expect([validate(1), validate("one")]).toEqual([true, false]);
    const serialize = compilers["@fastify/fast-json-stringify-compiler"]()({}, {})({
      schema: { type: "object", properties: { a: { type: "string" } } },
    });
    expect(serialize({ a: "x", b: 1 })).toBe('{"a":"x"}');
    expect(lazy("./lazy/semver.cjs").semver.satisfies("5.1.0", "5.x")).toBe(true);
  });

  it.runIf(built)("keeps the browser SDK free of every server package", () => {
    const loaded = packagesLoadedBy(join(ROOT, pkg.exports["./client"]?.default ?? ""));
    expect(loaded).toEqual([]);
  });
});
