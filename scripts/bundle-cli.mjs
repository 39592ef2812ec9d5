#!/usr/bin/env node
// The second half of `npm run build`: bundles the compiled CLI (dist/src/cli/main.js, from tsc)
// into dist/src/cli/bundle/, which bin/tessera.js prefers. A cold `tessera serve` then reads
// and compiles one file instead of resolving some 700 modules one by one (issue 15, target 5).
//
// Split where the code loads lazily (each store, gRPC): a server on SQLite still never loads
// the Redis or PostgreSQL client, and `--grpc off` never loads gRPC. Native modules, the
// other stores' drivers and gRPC stay outside the bundle and load from node_modules as
// before. Source maps lead back through tsc's maps to src/.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = `${root}dist/src/cli/bundle`;

/** Loaded from node_modules, not bundled: native code, and what only another configuration uses. */
export const EXTERNAL = [
  "better-sqlite3",
  "@node-rs/argon2",
  "pg",
  "pg-native",
  "redis",
  "@redis/*",
  "@grpc/*",
  "protobufjs",
];

/**
 * Modules Fastify requires as it loads or as each instance is constructed, though the server
 * never uses them: its JSON-schema compilers (ajv and fast-json-stringify, a fifth of the
 * bundle's code; the server's routes have no schema, they validate with zod), `node:http2`
 * (without `http2: true`) and semver (for plugins that name a Fastify range). In the bundle
 * each gets a stand-in that requires the real module, bundled as before, at its first use:
 * same code, same options, only later.
 */
const LAZY = [
  { importer: "fastify/lib/schema-controller.js", specifier: "@fastify/ajv-compiler", real: "@fastify/ajv-compiler/index.js", kind: "selector" },
  { importer: "fastify/lib/schema-controller.js", specifier: "@fastify/fast-json-stringify-compiler", real: "@fastify/fast-json-stringify-compiler/index.js", kind: "selector" },
  { importer: "fastify/lib/server.js", specifier: "node:http2", real: "node:http2", kind: "functions", binding: "http2" },
  { importer: "fastify/lib/plugin-utils.js", specifier: "semver", real: "semver/index.js", kind: "functions", binding: "semver" },
];

/** The functions `importer` calls on `binding` (`http2.createServer(…)`); any other use of it fails the build. */
function calledFunctions(importer, binding) {
  const code = readFileSync(importer, "utf8")
    .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "")
    .replace(new RegExp(`const ${binding} = require\\([^)]*\\)`), "");
  const names = new Set();
  for (const use of code.matchAll(new RegExp(`(?<![.\\w$])${binding}\\b(?:\\.(\\w+)\\()?`, "g"))) {
    if (use[1] === undefined)
      throw new Error(`${importer}: ${binding} is used other than by calling its functions (LAZY in scripts/bundle-cli.mjs)`);
    names.add(use[1]);
  }
  return [...names];
}

function standIn(entry, importer) {
  const real = `require(${JSON.stringify(entry.real)})`;
  const lines = ['"use strict";', `// Stands in for ${entry.specifier} until its first use (LAZY in scripts/bundle-cli.mjs).`];
  if (entry.kind === "selector") {
    // \`ValidatorSelector()\` returns the function Fastify calls to build a compiler.
    lines.push(
      "module.exports = function lazySelector(...selectorArgs) {",
      "  let builder;",
      "  return function lazyBuilder(...args) {",
      `    builder ??= ${real}(...selectorArgs);`,
      "    return builder(...args);",
      "  };",
      "};",
    );
  } else {
    lines.push("let real;");
    for (const name of calledFunctions(importer, entry.binding))
      lines.push(`exports.${name} = (...args) => (real ??= ${real}).${name}(...args);`);
  }
  return lines.join("\n");
}

const lazyModules = {
  name: "lazy-modules",
  setup(build) {
    build.onResolve({ filter: /./ }, (args) => {
      const entry = LAZY.find(
        (candidate) => candidate.specifier === args.path && args.importer.replaceAll("\\", "/").endsWith(`/node_modules/${candidate.importer}`),
      );
      return entry === undefined ? undefined : { path: `${entry.importer}:${entry.specifier}`, namespace: "lazy", pluginData: { entry, importer: args.importer } };
    });
    build.onLoad({ filter: /./, namespace: "lazy" }, ({ pluginData: { entry, importer } }) => ({
      contents: standIn(entry, importer),
      resolveDir: dirname(importer),
      loader: "js",
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { tessera: "dist/src/cli/main.js" },
  outdir,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: EXTERNAL,
  plugins: [lazyModules],
  // The CommonJS packages inside call `require` for Node's built-ins and the externals.
  banner: {
    js: 'import { createRequire as __tesseraCreateRequire } from "node:module"; const require = __tesseraCreateRequire(import.meta.url);',
  },
  sourcemap: "linked",
  sourcesContent: false,
  logLevel: "warning",
  metafile: process.env.TESSERA_BUNDLE_META !== undefined,
});
if (result.metafile !== undefined) writeFileSync(process.env.TESSERA_BUNDLE_META, JSON.stringify(result.metafile));
