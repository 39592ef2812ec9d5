/**
 * Where the service's `.proto` lives and how it is loaded. The file ships in the package
 * (`proto/tessera/v1/session_service.proto`) and is found by walking up from this module
 * to the package root, so the same code works from `src/` (vitest) and `dist/src/` (the
 * build) and from an installed package.
 *
 * Requests that protobuf cannot decode would otherwise reach the client as grpc-js's own
 * `INTERNAL`; the decoder is wrapped so that they arrive at the handler as `MALFORMED` and
 * are answered `INVALID_ARGUMENT`, like any other malformed request — and so do those it
 * would decode wrongly (a field running past the end of the message; see `wire-format.ts`).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";
import { isWellFormedMessage } from "./wire-format.js";

export const SERVICE_NAME = "tessera.v1.SessionService";
const PROTO_RELATIVE = join("proto", "tessera", "v1", "session_service.proto");

/**
 * How the messages look in JavaScript: field names as in the `.proto` (snake_case),
 * absent fields as their defaults (`""`, `0`), 64-bit integers as numbers (user ids stay
 * far below 2^53).
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Stands in for a request that could not be decoded. */
export const MALFORMED: unique symbol = Symbol("malformed request");

let cachedPath: string | undefined;

/** The absolute path of `session_service.proto`. */
export function protoPath(): string {
  if (cachedPath !== undefined) return cachedPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, PROTO_RELATIVE);
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) {
      cachedPath = candidate;
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`tessera: cannot find ${PROTO_RELATIVE} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Loads the package definition (for the server and for reflection). */
export function loadPackage(): PackageDefinition {
  return loadSync(protoPath(), LOADER_OPTIONS);
}

/** The SessionService definition with decoders that never throw (see the module note). */
export function sessionServiceDefinition(pkg: PackageDefinition): ServiceDefinition {
  const service = pkg[SERVICE_NAME] as ServiceDefinition | undefined;
  if (service === undefined) throw new Error(`tessera: ${SERVICE_NAME} is missing from the proto file`);
  const wrapped: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        if (!isWellFormedMessage(bytes)) return MALFORMED;
        try {
          return decode(bytes);
        } catch {
          return MALFORMED;
        }
      },
    };
  }
  return wrapped;
}
