/**
 * `tessera sessions list [--user NAME]` and `tessera sessions revoke <id>`. A revocation
 * written here reaches a running server through the store's event feed: its sockets close
 * and its caches forget the session within moments.
 */
import { Command } from "commander";
import { TesseraError } from "../errors.js";
import type { CliIO } from "./io.js";
import { withEngine, withStoreOptions } from "./store-options.js";
import { iso, printRows } from "./table.js";

export function sessionsCommand(io: CliIO): Command {
  const sessions = new Command("sessions").description("inspect and revoke sessions");

  withStoreOptions(
    sessions
      .command("list")
      .description("list live sessions")
      .option("-u, --user <username>", "only this user's sessions")
      .option("--json", "print JSON"),
  ).action(async (options: { user?: string; json?: boolean }, command: Command) => {
    const rows = await withEngine(command, io, async ({ tessera, store }) => {
      let userId: number | undefined;
      if (options.user !== undefined) {
        const user = await tessera.findUser(options.user);
        if (user === null) throw new TesseraError("not_found", `No user named ${options.user}.`);
        userId = user.id;
      }
      const now = Date.now();
      const records =
        userId === undefined ? await store.listAllSessions(now) : await store.listSessions(userId, now);
      return records.map((session) => ({
        id: session.id,
        userId: session.userId,
        deviceId: session.deviceId,
        tokenType: session.tokenType,
        createdAt: iso(session.createdAt),
        expiresAt: iso(session.expiresAt),
        ipAddress: session.metadata.ipAddress,
      }));
    });
    printRows(io, rows, { json: options.json === true, empty: "No live sessions." });
  });

  withStoreOptions(
    sessions.command("revoke").description("end a session (all its tokens and sockets)").argument("<id>"),
  ).action(async (id: string, _options: unknown, command: Command) => {
    await withEngine(command, io, ({ tessera }) => tessera.revokeSession(id, { reason: "revoked_by_admin" }));
    io.out(`Revoked session ${id}.`);
  });

  return sessions;
}
