import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LogStream } from "./log-stream.js";

let dir: string;
let fd: number;
let path: string;
afterEach(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function open(batchBytes: number, flushMs = 60_000): LogStream {
  dir = mkdtempSync(join(tmpdir(), "tessera-log-stream-"));
  path = join(dir, "out.log");
  fd = openSync(path, "w");
  return new LogStream({ fd, batchBytes, flushMs });
}

const flushed = (stream: LogStream) => new Promise<void>((resolve) => stream.flush(resolve));

describe("LogStream", () => {
  it("writes every line once and in order, across batches, whole and UTF-8 intact", async () => {
    const stream = open(256);
    const lines = Array.from({ length: 500 }, (_, i) => `{"n":${i},"text":"${"é€😀".repeat(i % 7)}"}\n`);
    lines.push(`${"x".repeat(1000)}\n`); // longer than a batch
    for (const line of lines) stream.write(line);
    await flushed(stream);
    expect(readFileSync(path, "utf8")).toBe(lines.join(""));
  });

  it("writes a batch once it is full, without being asked", async () => {
    // A 10-character line takes up to 30 bytes: four fit in 64 for sure, the fifth may not.
    const stream = open(64);
    const lines = ["line 0001\n", "line 0002\n", "line 0003\n", "line 0004\n", "line 0005\n"];
    for (const line of lines.slice(0, 4)) stream.write(line);
    expect(readFileSync(path, "utf8")).toBe("");
    stream.write(lines[4] as string);
    await vi.waitFor(() => expect(readFileSync(path, "utf8")).toBe(lines.slice(0, 4).join("")));
  });

  it("writes a quiet period's lines flushMs after the first, unasked", async () => {
    const stream = open(1 << 16, 20);
    stream.write("one\n");
    stream.write("two\n");
    await vi.waitFor(() => expect(readFileSync(path, "utf8")).toBe("one\ntwo\n"));
  });

  it("flushSync writes what is waiting before it returns", () => {
    const stream = open(1 << 16);
    stream.write("last words\n");
    stream.flushSync();
    expect(readFileSync(path, "utf8")).toBe("last words\n");
  });

  it("flush with nothing waiting calls back at once", async () => {
    const stream = open(64);
    await flushed(stream);
    expect(readFileSync(path, "utf8")).toBe("");
  });
});
