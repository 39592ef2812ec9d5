import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, TesseraError } from "../../errors.js";
import { GRPC_STATUS, serviceError } from "./status.js";

function capture() {
  const lines: { details: object; message: string }[] = [];
  return { lines, logger: { error: (details: object, message: string) => lines.push({ details, message }) } };
}

describe("grpc status table", () => {
  it("gives every contract code a status, and bad credentials or tokens UNAUTHENTICATED", () => {
    for (const code of ERROR_CODES) expect(GRPC_STATUS[code]).toEqual(expect.any(Number));
    for (const code of [
      "invalid_credentials",
      "token_invalid",
      "token_expired",
      "token_revoked",
      "refresh_token_reused",
    ] as const) {
      expect(GRPC_STATUS[code]).toBe(status.UNAUTHENTICATED);
    }
    expect(GRPC_STATUS.invalid_request).toBe(status.INVALID_ARGUMENT);
    expect(GRPC_STATUS.rate_limited).toBe(status.RESOURCE_EXHAUSTED);
    expect(GRPC_STATUS.unavailable).toBe(status.UNAVAILABLE);
    expect(GRPC_STATUS.internal_error).toBe(status.INTERNAL);
    // Only a server fault may look like one to a client.
    const internal = ERROR_CODES.filter((code) => GRPC_STATUS[code] === status.INTERNAL);
    expect(internal).toEqual(["internal_error"]);
  });

  it("matches the gRPC column of docs/errors.md", () => {
    const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    for (const code of ERROR_CODES) {
      const row = new RegExp(`^\\| \`${code}\` \\| [^|]+ \\| ([A-Z_]+) \\|`, "m").exec(doc);
      expect(row?.[1], `docs/errors.md gRPC status of ${code}`).toBe(status[GRPC_STATUS[code]]);
    }
  });

  it("carries the contract code in the message prefix and the tessera-error-code trailer", () => {
    const { logger, lines } = capture();
    const result = serviceError(new TesseraError("token_revoked", "The session has ended."), {
      logger,
      method: "M",
    });
    expect(result.code).toBe(status.UNAUTHENTICATED);
    expect(result.details).toBe("token_revoked: The session has ended.");
    expect(result.metadata.get("tessera-error-code")).toEqual(["token_revoked"]);
    expect(lines).toEqual([]);
  });

  it("adds retry-after to rate_limited", () => {
    const result = serviceError(new TesseraError("rate_limited", "Slow down.", { retryAfterSeconds: 7 }), {
      method: "M",
    });
    expect(result.metadata.get("retry-after")).toEqual(["7"]);
  });

  it("turns anything else into internal_error with a generic message and logs the original", () => {
    const { logger, lines } = capture();
    const thrown = new Error("SQLITE_CORRUPT at /var/lib/tessera.db");
    const result = serviceError(thrown, { logger, method: "GetSession" });
    expect(result).toMatchObject({
      code: status.INTERNAL,
      details: "internal_error: An internal error occurred.",
    });
    expect(result).not.toHaveProperty("stack");
    expect(lines).toEqual([{ details: { err: thrown, method: "GetSession" }, message: "grpc call failed" }]);
  });
});
