/**
 * `tessera serve`: every setting of `SETTINGS` as a flag, the environment variables in the
 * help text, then `startServer` and graceful shutdown on SIGTERM/SIGINT.
 */
import { Command, Option } from "commander";
import { environmentHelp, loadConfig, SETTINGS } from "../server/config.js";
import { installShutdownHandlers } from "../server/shutdown.js";
import { type RunningServer, startServer } from "../server/start.js";
import type { CliIO } from "./io.js";

export interface ServeHooks {
  /** Called once the server listens (tests close it; the real CLI waits for a signal). */
  readonly onStarted?: (server: RunningServer) => void;
  /** @default true */
  readonly installSignalHandlers?: boolean;
}

export function serveCommand(io: CliIO, hooks: ServeHooks = {}): Command {
  const serve = new Command("serve").description(
    "run the HTTP API (and the socket and gRPC gateways) on SQLite (default), Redis or PostgreSQL",
  );
  const keyOf = new Map<string, string>();
  for (const setting of SETTINGS) {
    const option = new Option(
      setting.flag,
      `${setting.help} [env: ${setting.env.join(", ")}] (default: ${setting.defaultText})`,
    );
    keyOf.set(option.attributeName(), setting.key);
    serve.addOption(option);
  }
  serve.addHelpText(
    "after",
    `\n${environmentHelp()}\n\nExample:\n  PORT=8080 tessera serve --data-dir /var/lib/tessera\n  tessera serve --store redis --redis-url redis://10.0.0.5:6379`,
  );
  serve.action(async (options: Record<string, unknown>) => {
    const flags: Record<string, unknown> = {};
    for (const [attribute, value] of Object.entries(options))
      flags[keyOf.get(attribute) ?? attribute] = value;
    const config = loadConfig({ flags, env: io.env, cwd: io.cwd });
    const server = await startServer(config, { print: io.out });
    if (hooks.installSignalHandlers !== false) installShutdownHandlers(server, { log: io.err });
    hooks.onStarted?.(server);
  });
  return serve;
}
