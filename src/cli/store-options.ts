/**
 * The management commands open the same store, with the same signing settings, as the
 * server: they read the same flags (`--config`, `--store`, `--data-dir`, `--database`,
 * `--redis-url`, `--database-url`) and the same environment (`TESSERA_*`) through
 * `loadConfig`.
 */
import { type Command, Option } from "commander";
import { loadConfig, SETTINGS, type ServerConfig } from "../server/config.js";
import { type OpenedEngine, openEngine } from "../server/open-engine.js";
import type { CliIO } from "./io.js";

/** The settings that say which store to open, as `serve` spells them. */
const STORE_SETTINGS = [
  "config",
  "store",
  "dataDir",
  "databasePath",
  "redisUrl",
  "databaseUrl",
  "allowUnsafeRedis",
];

export function withStoreOptions(command: Command): Command {
  for (const key of STORE_SETTINGS) {
    const setting = SETTINGS.find((candidate) => candidate.key === key);
    if (setting === undefined) throw new Error(`no setting ${key}`);
    const option = new Option(
      setting.flag,
      `${setting.help} [env: ${setting.env.join(", ")}] (default: ${setting.defaultText})`,
    );
    command.addOption(option);
  }
  return command;
}

export function configFor(command: Command, io: CliIO): ServerConfig {
  const { database, ...rest } = command.opts<Record<string, unknown>>();
  return loadConfig({ flags: { ...rest, databasePath: database }, env: io.env, cwd: io.cwd });
}

/** Runs `work` with an engine on the configured store, closing both afterwards. */
export async function withEngine<T>(
  command: Command,
  io: CliIO,
  work: (opened: OpenedEngine) => Promise<T>,
): Promise<T> {
  // A management command never touches signing keys unless it is asked to (`keys rotate`).
  const config = configFor(command, io);
  const opened = await openEngine(
    config,
    { securityEvents: { retentionDays: config.eventsRetentionDays, surface: "cli" } },
    { manageStoredKeys: false },
  );
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}
