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
  if (rel === "index.ts") return "index";
  // The interface, and the listener set every store's event feed is built on.
  if (rel === "stores/session-store.ts" || rel === "stores/event-listeners.ts") return "stores/interface";
  if (rel === "stores/conformance.ts") return "stores/conformance";
  const [top, second] = rel.split("/");
  if (top === "stores" || top === "surfaces") return `${top}/${second?.replace(/\.ts$/, "")}`;
  return top ?? rel;
}

/** Which layers each layer may import (besides itself and `errors`). */
function allowed(from: string, to: string): boolean {
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
  fastify: (layer) => layer.startsWith("surfaces/") || layer === "server" || layer === "cli",
  ws: (layer) => layer.startsWith("surfaces/") || layer === "server",
  "@grpc/grpc-js": (layer) => layer.startsWith("surfaces/") || layer === "server",
  express: (layer) => layer === "surfaces/middleware",
  hono: (layer) => layer === "surfaces/middleware",
  pino: (layer) => layer === "server" || layer === "cli" || layer.startsWith("surfaces/"),
  commander: (layer) => layer === "cli",
};

describe("architecture", () => {
  const files = sourceFiles(SRC);

  it("finds the source tree", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("every import follows the layer diagram", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
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
