/**
 * What a CLI command may touch of the outside world, passed in so that tests run commands
 * in-process: output streams, stdin, environment and working directory. Also the two ways
 * a password arrives without ever being a command-line argument (which would land in shell
 * history and `ps`): standard input, or a hidden interactive prompt.
 */
import type { Readable, Writable } from "node:stream";

export interface CliIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  /** Where the prompt is written (stderr, so stdout stays machine-readable). */
  readonly promptOut: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIO(): CliIO {
  return {
    out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    stdin: process.stdin,
    promptOut: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** All of stdin, without one trailing newline (so `echo pw |` and `printf pw |` agree). */
export async function readStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Asks for a secret on a terminal without echoing it. */
export function promptHidden(io: CliIO, question: string): Promise<string> {
  const { stdin, promptOut } = io;
  return new Promise((resolve, reject) => {
    promptOut.write(question);
    let value = "";
    const finish = (error: Error | null) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      promptOut.write("\n");
      if (error === null) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of String(chunk)) {
        if (char === "\r" || char === "\n") return finish(null);
        if (char === "\u0003" || char === "\u0004") return finish(new Error("cancelled"));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode?.(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
  });
}

/** Asks a question on a terminal and reads one line, echoed (a confirmation, not a secret). */
export function promptLine(io: CliIO, question: string): Promise<string> {
  const { stdin, promptOut } = io;
  return new Promise((resolve) => {
    promptOut.write(question);
    let value = "";
    const onData = (chunk: Buffer | string) => {
      const text = String(chunk);
      const end = text.search(/[\r\n]/);
      value += end === -1 ? text : text.slice(0, end);
      if (end === -1) return;
      stdin.off("data", onData);
      stdin.pause();
      resolve(value);
    };
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
  });
}
