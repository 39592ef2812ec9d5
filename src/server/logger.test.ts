import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { REQUEST_LINE, type RequestLineWriter } from "../surfaces/http/request-log.js";
import { createLogger } from "./logger.js";

function captured(level?: string) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ destination, ...(level === undefined ? {} : { level }) });
  const line = (logger as unknown as { [REQUEST_LINE]: RequestLineWriter })[REQUEST_LINE];
  return { logger, line, lines };
}

const withoutTime = (text: string | undefined) => String(text).replace(/"time":\d+/, '"time":0');

describe("the request line", () => {
  it("is the line pino writes for the same fields, escaping included", () => {
    const { logger, line, lines } = captured();
    const route = '/plugins/"odd"\\route/\u2028é';
    line("req-1a", "GET", route, 200, 0.3);
    logger.info({ reqId: "req-1a", method: "GET", route, status: 200, ms: 0.3 }, "request");
    expect(lines).toHaveLength(2);
    expect(withoutTime(lines[0])).toBe(withoutTime(lines[1]));
    expect(JSON.parse(String(lines[0]))).toMatchObject({ service: "tessera", route, status: 200, ms: 0.3 });
  });

  it("follows the logger's level, also when it changes", () => {
    const { logger, line, lines } = captured("warn");
    line("req-1", "GET", "/livez", 200, 0.1);
    expect(lines).toHaveLength(0);
    logger.level = "info";
    line("req-2", "GET", "/livez", 200, 0.1);
    expect(lines).toHaveLength(1);
  });
});
