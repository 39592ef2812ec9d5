/**
 * The `tessera` command line: `serve`, `keys`, `users`, `sessions`, `events`. `runCli` returns the
 * exit code of a management command, or `"serving"` once `serve` has started (the process
 * then lives until a signal). Errors are printed as one friendly line, exit code 1; usage
 * errors exit 2 as is customary.
 */
import { Command, CommanderError } from "commander";
import { isTesseraError } from "../errors.js";
import { ConfigError } from "../server/config.js";
import { eventsCommand } from "./events.js";
import type { CliIO } from "./io.js";
import { keysCommand } from "./keys.js";
import { type ServeHooks, serveCommand } from "./serve.js";
import { sessionsCommand } from "./sessions.js";
import { usersCommand } from "./users.js";

export function buildProgram(io: CliIO, serveHooks: ServeHooks = {}): Command {
  const program = new Command("tessera")
    .description(
      "Tessera: sessions done right — password login, access JWTs, session tokens, rotating refresh tokens",
    )
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .exitOverride();
  program.addCommand(serveCommand(io, serveHooks));
  program.addCommand(keysCommand(io));
  program.addCommand(usersCommand(io));
  program.addCommand(sessionsCommand(io));
  program.addCommand(eventsCommand(io));
  // Commands built with `new Command()` do not inherit these settings; pass them down.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub.copyInheritedSettings(command);
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

export async function runCli(
  argv: readonly string[],
  io: CliIO,
  serveHooks: ServeHooks = {},
): Promise<number | "serving"> {
  const program = buildProgram(io, serveHooks);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      if (error.code === "commander.help" || error.code === "commander.executeSubCommandAsync")
        return error.exitCode;
      return error.exitCode === 1 ? 2 : error.exitCode;
    }
    io.err(`tessera: ${describe(error)}`);
    return 1;
  }
  return program.args[0] === "serve" || argv[0] === "serve" ? "serving" : 0;
}

function describe(error: unknown): string {
  if (error instanceof ConfigError || isTesseraError(error)) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
