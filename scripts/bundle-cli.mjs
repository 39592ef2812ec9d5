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
 * never uses them: its JSON-schema compilers (ajv and fast-json-stringify, a quarter of the
 * code otherwise bundled; the server's routes have no schema, they validate with zod),
 * `node:http2` (without `http2: true`) and semver (for plugins that name a Fastify range).
 * In the bundle each gets a stand-in that requires the real module at its first use: Node's
 * own for `node:http2`, else the package bundled into `lazy/<file>` beside the bundle, from
 * the same node_modules (the two compilers share one file, and so one ajv, as they would
 * unbundled). Same code, same options, only later, and never read if unused.
 */
const LAZY = [
  {
    importer: "fastify/lib/schema-controller.js",
    specifier: "@fastify/ajv-compiler",
    file: "schema-compilers.cjs",
    kind: "selector",
  },
  {
    importer: "fastify/lib/schema-controller.js",
    specifier: "@fastify/fast-json-stringify-compiler",
    file: "schema-compilers.cjs",
    kind: "selector",
  },
  { importer: "fastify/lib/server.js", specifier: "node:http2", kind: "functions", binding: "http2" },
  {
    importer: "fastify/lib/plugin-utils.js",
    specifier: "semver",
    file: "semver.cjs",
    kind: "functions",
    binding: "semver",
  },
];

/** The functions `importer` calls on `binding` (`http2.createServer(…)`); any other use of it fails the build. */
function calledFunctions(importer, binding) {
  const code = readFileSync(importer, "utf8")
    .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "")
    .replace(new RegExp(`const ${binding} = require\\([^)]*\\)`), "");
  const names = new Set();
  for (const use of code.matchAll(new RegExp(`(?<![.\\w$])${binding}\\b(?:\\.(\\w+)\\()?`, "g"))) {
    if (use[1] === undefined)
      throw new Error(
        `${importer}: ${binding} is used other than by calling its functions (LAZY in scripts/bundle-cli.mjs)`,
      );
    names.add(use[1]);
  }
  return [...names];
}

/** The stand-in's code; `require` is the bundle's own (see the banner), relative to tessera.mjs. */
function standIn(entry, importer) {
  const real =
    entry.file === undefined
      ? `require(${JSON.stringify(entry.specifier)})`
      : `require(${JSON.stringify(`./lazy/${entry.file}`)})[${JSON.stringify(entry.specifier)}]`;
  const lines = [
    '"use strict";',
    `// Stands in for ${entry.specifier} until its first use (LAZY in scripts/bundle-cli.mjs).`,
  ];
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

/** Where each LAZY entry's importer was found, for building its `lazy/` file from there. */
const importerDirs = new Map();

const lazyModules = {
  name: "lazy-modules",
  setup(build) {
    build.onResolve({ filter: /^\.\/lazy\// }, (args) =>
      args.namespace === "lazy" ? { path: args.path, external: true } : undefined,
    );
    build.onResolve({ filter: /./ }, (args) => {
      const importer = args.importer.replaceAll("\\", "/");
      const entry = LAZY.find(
        (candidate) =>
          candidate.specifier === args.path && importer.endsWith(`/node_modules/${candidate.importer}`),
      );
      if (entry === undefined) return undefined;
      importerDirs.set(entry, dirname(args.importer));
      return {
        path: `${entry.importer}:${entry.specifier}`,
        namespace: "lazy",
        pluginData: { entry, importer: args.importer },
      };
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
  // The CommonJS packages inside call `require` for Node's built-ins, the externals and lazy/.
  banner: {
    js: 'import { createRequire as __tesseraCreateRequire } from "node:module"; const require = __tesseraCreateRequire(import.meta.url);',
  },
  sourcemap: "linked",
  sourcesContent: false,
  logLevel: "warning",
  metafile: true,
});

// The stand-ins require `./lazy/…` relative to the file they are in: it must be tessera.mjs.
for (const [name, output] of Object.entries(result.metafile.outputs)) {
  const holdsStandIn = Object.keys(output.inputs).some((input) => input.startsWith("lazy:"));
  if (holdsStandIn && !name.endsWith("/tessera.mjs"))
    throw new Error(
      `a lazy stand-in landed in ${name}, not tessera.mjs: its ./lazy/ paths would not resolve`,
    );
}
for (const file of new Set(LAZY.flatMap((entry) => (entry.file === undefined ? [] : [entry.file])))) {
  const entries = LAZY.filter((entry) => entry.file === file);
  const dirs = new Set(entries.map((entry) => importerDirs.get(entry)));
  const [resolveDir] = dirs;
  if (dirs.size !== 1 || resolveDir === undefined)
    throw new Error(`the modules of lazy/${file} are no longer required from one place; update LAZY`);
  const requires = entries.map(
    (entry) => `${JSON.stringify(entry.specifier)}: require(${JSON.stringify(entry.specifier)})`,
  );
  await build({
    stdin: { contents: `module.exports = { ${requires.join(", ")} };`, resolveDir, loader: "js" },
    outfile: `${outdir}/lazy/${file}`,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "warning",
  });
}
if (process.env.TESSERA_BUNDLE_META !== undefined)
  writeFileSync(process.env.TESSERA_BUNDLE_META, JSON.stringify(result.metafile));
