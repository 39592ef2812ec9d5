/**
 * The import diagram of STYLE.md, enforced: server → surfaces → engine → {tokens,
 * passwords, stores/session-store}; a concrete store imports only the interface; anyone
 * may import `errors`. A new edge that the diagram does not allow fails here.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)].map((m) => m[1] ?? "");
}

/** The layer of a path under src/, e.g. "engine", "tokens", "stores/sqlite", "stores/interface". */
function layerOf(path: string): string {
  const rel = relative(SRC, path).split("\\").join("/");
  if (rel === "errors.ts") return "errors";
  // The package's entry points (`tessera`, `tessera/sqlite`, …) re-export; they may reach anything.
  if (rel === "index.ts" || rel.startsWith("entry/")) return "index";
  // The interface, the listener set every store's event feed is built on, the event row
  // format the SQL stores share, and the identity helpers every store shares.
  if (
    rel === "stores/session-store.ts" ||
    rel === "stores/event-listeners.ts" ||
    rel === "stores/event-rows.ts" ||
    rel === "stores/identities.ts"
  )
    return "stores/interface";
  if (rel === "stores/conformance.ts") return "stores/conformance";
  const [top, second] = rel.split("/");
  if (top === "stores" || top === "surfaces") return `${top}/${second?.replace(/\.ts$/, "")}`;
  return top ?? rel;
}

/** Which layers each layer may import (besides itself and `errors`). */
function allowed(from: string, to: string): boolean {
  // The SDK runs in browsers: nothing of the server may reach it (its type imports are checked below).
  if (from === "client" || to === "client") return to === from && from === "client";
  if (to === from || to === "errors") return true;
  if (from === "index" || from === "server" || from === "cli") return true;
  if (from === "tokens" || from === "passwords" || from === "stores/interface") return false;
  if (from === "stores/conformance") return to === "stores/interface";
  if (from.startsWith("stores/")) return to === "stores/interface";
  if (from === "engine") return ["tokens", "passwords", "stores/interface"].includes(to);
  if (from.startsWith("surfaces/")) {
    return to === "engine" || to === "tokens" || to === "stores/interface" || to.startsWith("surfaces/");
  }
  return false;
}

/** Packages only some layers may load: drivers stay in their store, frameworks in their surface. */
const PACKAGE_HOMES: Record<string, (layer: string) => boolean> = {
  "better-sqlite3": (layer) => layer === "stores/sqlite",
  redis: (layer) => layer === "stores/redis",
  pg: (layer) => layer === "stores/postgres",
  "@node-rs/argon2": (layer) => layer === "passwords",
  fastify: (layer) => layer.startsWith("surfaces/") || layer === "server" || layer === "cli",
  ws: (layer) => layer.startsWith("surfaces/") || layer === "server",
  "@grpc/grpc-js": (layer) => layer.startsWith("surfaces/") || layer === "server",
  express: (layer) => layer === "surfaces/middleware",
  hono: (layer) => layer === "surfaces/middleware",
  pino: (layer) => layer === "server" || layer === "cli" || layer.startsWith("surfaces/"),
  commander: (layer) => layer === "cli",
};

/** Server modules the SDK may take *types* from: pure shapes that `import type` erases. */
const CLIENT_TYPE_SOURCES = new Set(["errors.ts", "engine/types.ts"]);

/** Every import of a file, with whether it is type-only (`import type …` / `export type …`). */
function importsWithKind(text: string): { spec: string; typeOnly: boolean }[] {
  return [...text.matchAll(/(?:^|\n)\s*(import|export)\s(type\s)?[^;]*?from\s+"([^"]+)"/g)].map((m) => ({
    spec: m[3] ?? "",
    typeOnly: m[2] !== undefined,
  }));
}

/** Why the SDK file's imports would load something outside the SDK, or []. */
function clientViolations(file: string, text = readFileSync(file, "utf8")): string[] {
  return importsWithKind(text).flatMap(({ spec, typeOnly }) => {
    if (!spec.startsWith(".")) return [`${relative(ROOT, file)} loads the package ${spec}`];
    const target = relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, ".ts")))
      .split("\\")
      .join("/");
    if (target.startsWith("client/")) return [];
    if (typeOnly && CLIENT_TYPE_SOURCES.has(target)) return [];
    return [
      `${relative(ROOT, file)} imports ${spec}${typeOnly ? " (types from a module not on the list)" : ""}`,
    ];
  });
}

describe("architecture", () => {
  const files = sourceFiles(SRC);

  it("the client SDK imports only its own files, and only types from the shared shapes", () => {
    const client = files.filter((file) => layerOf(file) === "client");
    expect(client.length).toBeGreaterThan(3);
    expect(client.flatMap((file) => clientViolations(file))).toEqual([]);
  });

  it("the SDK rule refuses a value import of server code, a package, and types from elsewhere", () => {
    const file = join(SRC, "client", "example.ts");
    expect(clientViolations(file, 'import type { ErrorCode } from "../errors.js";\n')).toEqual([]);
    expect(clientViolations(file, 'import { TesseraError } from "../errors.js";\n')).toHaveLength(1);
    expect(clientViolations(file, 'import WebSocket from "ws";\n')).toHaveLength(1);
    expect(clientViolations(file, 'import type { Tessera } from "../engine/tessera.js";\n')).toHaveLength(1);
    expect(allowed("client", "engine")).toBe(false);
    expect(allowed("server", "client")).toBe(false);
  });

  it("finds the source tree", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("every import follows the layer diagram", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      if (from === "client") continue; // its own, stricter rule above
      for (const spec of importsOf(file)) {
        if (spec.startsWith(".")) {
          const to = layerOf(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
          if (!allowed(from, to))
            violations.push(`${relative(ROOT, file)} (${from}) imports ${spec} (${to})`);
        } else {
          const pkg = spec.startsWith("@")
            ? spec.split("/").slice(0, 2).join("/")
            : (spec.split("/")[0] ?? spec);
          const home = PACKAGE_HOMES[pkg];
          if (home !== undefined && !home(from))
            violations.push(`${relative(ROOT, file)} (${from}) loads ${pkg}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("the rules themselves refuse the edges the diagram forbids", () => {
    expect(allowed("engine", "surfaces/http")).toBe(false);
    expect(allowed("engine", "stores/sqlite")).toBe(false);
    expect(allowed("stores/sqlite", "engine")).toBe(false);
    expect(allowed("tokens", "stores/interface")).toBe(false);
    expect(allowed("surfaces/http", "server")).toBe(false);
    expect(allowed("surfaces/http", "stores/sqlite")).toBe(false);
  });
});
