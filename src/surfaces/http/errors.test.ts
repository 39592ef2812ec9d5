import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, TesseraError } from "../../errors.js";
import { clientError, errorResponse, HTTP_STATUS } from "./errors.js";

describe("the HTTP error table", () => {
  it("gives every code the status docs/errors.md documents", () => {
    const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    for (const code of ERROR_CODES) {
      const row = new RegExp(`\\| \`${code}\` \\| (\\d{3}) \\|`).exec(doc);
      expect(row?.[1], `docs row for ${code}`).toBe(String(HTTP_STATUS[code]));
    }
  });

  it("adds Retry-After to rate_limited, at least one second", () => {
    const limited = errorResponse(new TesseraError("rate_limited", "slow down", { retryAfterSeconds: 7 }));
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBe("7");
    expect(errorResponse(new TesseraError("rate_limited", "slow down")).headers["retry-after"]).toBe("1");
  });

  it("includes issues for invalid_request only", () => {
    const issues = [{ path: "username", message: "is required" }];
    expect(errorResponse(new TesseraError("invalid_request", "bad", { issues })).body.error.issues).toEqual(
      issues,
    );
    expect(
      errorResponse(new TesseraError("username_taken", "taken", { issues })).body.error,
    ).not.toHaveProperty("issues");
  });

  it("turns an unknown error into internal_error without its message", () => {
    const visible = clientError(new Error("SQLITE_CORRUPT at /var/db"));
    expect(visible.code).toBe("internal_error");
    expect(visible.message).not.toContain("SQLITE");
  });

  it("maps an unlisted 4xx framework error to a client code, never a 500", () => {
    expect(clientError(Object.assign(new Error("x"), { statusCode: 405 })).code).toBe("invalid_request");
    expect(clientError(Object.assign(new Error("x"), { statusCode: 404 })).code).toBe("not_found");
    expect(
      clientError(Object.assign(new Error("x"), { code: "FST_ERR_CTP_BODY_TOO_LARGE", statusCode: 413 }))
        .code,
    ).toBe("payload_too_large");
  });
});
