/**
 * Runs the `tessera` CLI in-process with captured output, a given stdin and environment.
 */
import { Readable, Writable } from "node:stream";
import type { CliIO } from "../src/cli/io.js";
import { runCli } from "../src/cli/program.js";
import type { ServeHooks } from "../src/cli/serve.js";

export interface CliRun {
  readonly code: number | "serving";
  readonly out: string;
  readonly err: string;
}

export async function cli(
  argv: readonly string[],
  options: { env?: Record<string, string>; stdin?: string; cwd?: string; serve?: ServeHooks } = {},
): Promise<CliRun> {
  let out = "";
  let err = "";
  const io: CliIO = {
    out: (text) => {
      out += text.endsWith("\n") ? text : `${text}\n`;
    },
    err: (text) => {
      err += text.endsWith("\n") ? text : `${text}\n`;
    },
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    promptOut: new Writable({ write: (_chunk, _encoding, done) => done() }),
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  };
  const code = await runCli(argv, io, { installSignalHandlers: false, ...options.serve });
  return { code, out, err };
}
