/**
 * The management commands open the same database, with the same signing settings, as the
 * server: they read the same flags (`--config`, `--data-dir`, `--database`) and the same
 * environment (`TESSERA_*`) through `loadConfig`.
 */
import type { Command } from "commander";
import { loadConfig, type ServerConfig } from "../server/config.js";
import { type OpenedEngine, openEngine } from "../server/open-engine.js";
import type { CliIO } from "./io.js";

export function withStoreOptions(command: Command): Command {
  return command
    .option("--config <file>", "JSON config file [env: TESSERA_CONFIG]")
    .option(
      "-d, --data-dir <dir>",
      "directory of the SQLite database [env: TESSERA_DATA_DIR] (default: ./data)",
    )
    .option("--database <file>", "SQLite file [env: TESSERA_DATABASE] (default: <data-dir>/tessera.db)");
}

export function configFor(command: Command, io: CliIO): ServerConfig {
  const { config, dataDir, database } = command.opts<{
    config?: string;
    dataDir?: string;
    database?: string;
  }>();
  return loadConfig({ flags: { config, dataDir, databasePath: database }, env: io.env, cwd: io.cwd });
}

/** Runs `work` with an engine on the configured store, closing both afterwards. */
export async function withEngine<T>(
  command: Command,
  io: CliIO,
  work: (opened: OpenedEngine) => Promise<T>,
): Promise<T> {
  // A management command never touches signing keys unless it is asked to (`keys rotate`).
  const opened = await openEngine(configFor(command, io), {}, { manageStoredKeys: false });
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}
