/**
 * `tessera users add <username>` and `tessera users list`. The password of `users add`
 * comes from `--password-stdin`, `TESSERA_PASSWORD` or a hidden prompt — never from an
 * argument, which shell history and `ps` would keep.
 */
import { Command } from "commander";
import { type CliIO, promptHidden, readStdin } from "./io.js";
import { withEngine, withStoreOptions } from "./store-options.js";
import { iso, printRows } from "./table.js";

async function passwordFor(io: CliIO, fromStdin: boolean): Promise<string> {
  if (fromStdin) return readStdin(io.stdin);
  const fromEnv = io.env.TESSERA_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (io.stdin.isTTY) {
    const first = await promptHidden(io, "Password: ");
    const second = await promptHidden(io, "Password (again): ");
    if (first !== second) throw new Error("The passwords do not match.");
    return first;
  }
  throw new Error(
    'No password given: pipe it with --password-stdin (printf %s "$PASSWORD" | tessera users add NAME --password-stdin) or set TESSERA_PASSWORD.',
  );
}

export function usersCommand(io: CliIO): Command {
  const users = new Command("users").description("manage users");

  withStoreOptions(
    users
      .command("add")
      .description("create a user (password from --password-stdin, TESSERA_PASSWORD or a prompt)")
      .argument("<username>")
      .option("--password-stdin", "read the password from standard input"),
  ).action(async (username: string, options: { passwordStdin?: boolean }, command: Command) => {
    const password = await passwordFor(io, options.passwordStdin === true);
    const user = await withEngine(command, io, ({ tessera }) => tessera.createUser({ username, password }));
    io.out(`Created user ${user.username} (id ${user.id}, uuid ${user.uuid}).`);
  });

  withStoreOptions(users.command("list").description("list users").option("--json", "print JSON")).action(
    async (options: { json?: boolean }, command: Command) => {
      const records = await withEngine(command, io, ({ store }) => store.listUsers());
      printRows(
        io,
        records.map((user) => ({
          id: user.id,
          username: user.username,
          uuid: user.uuid,
          createdAt: iso(user.createdAt),
          password: user.passwordHash === null ? "no" : "yes",
        })),
        { json: options.json === true, empty: "No users yet." },
      );
    },
  );

  return users;
}
