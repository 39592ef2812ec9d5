/**
 * `tessera users add|list|disable|enable|delete|link|unlink|identities`. The password of `users add` comes from
 * `--password-stdin`, `TESSERA_PASSWORD` or a hidden prompt — never from an argument, which
 * shell history and `ps` would keep. `disable` and `delete` end every session of the user at
 * once; a running server hears of it through the store's event feed and closes their
 * sockets. `delete` cannot be undone: it asks for the username again on a terminal, and
 * anywhere else (CI, scripts: no terminal to ask on) it needs `--yes`. `link` ties a
 * provider identity (a partner's `sub`) to an existing user — the only way such an
 * identity reaches a user it did not create.
 */
import { Command } from "commander";
import type { Tessera } from "../engine/tessera.js";
import type { PublicUser } from "../engine/types.js";
import { TesseraError } from "../errors.js";
import type { IdentityKey } from "../stores/session-store.js";
import { type CliIO, promptHidden, promptLine, readStdin } from "./io.js";
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

async function userNamed(tessera: Tessera, username: string): Promise<PublicUser> {
  const user = await tessera.findUser(username);
  if (user === null) throw new TesseraError("not_found", `No user named ${username}.`);
  return user;
}

function sessions(count: number): string {
  return count === 1 ? "1 session" : `${count} sessions`;
}

/** Whether the operator confirmed deleting `username`: `--yes`, or the name typed again on a terminal. */
async function confirmDelete(io: CliIO, username: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!io.stdin.isTTY) {
    throw new Error(`Deleting ${username} cannot be undone: pass --yes to confirm (no terminal to ask on).`);
  }
  const typed = await promptLine(
    io,
    `Delete ${username} and everything they stored? Type the username to confirm: `,
  );
  if (typed.trim() !== username) throw new Error("Not confirmed; nothing was deleted.");
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
          disabledAt: user.disabledAt === null ? null : iso(user.disabledAt),
        })),
        { json: options.json === true, empty: "No users yet." },
      );
    },
  );

  withStoreOptions(
    users
      .command("disable")
      .description(
        "disable a user: every session and socket of theirs ends at once; their logins are refused",
      )
      .argument("<username>"),
  ).action(async (username: string, _options: unknown, command: Command) => {
    const ended = await withEngine(command, io, async ({ tessera }) =>
      tessera.disableUser((await userNamed(tessera, username)).id),
    );
    io.out(`Disabled user ${username}; ${sessions(ended)} ended.`);
  });

  withStoreOptions(
    users.command("enable").description("let a disabled user log in again").argument("<username>"),
  ).action(async (username: string, _options: unknown, command: Command) => {
    await withEngine(command, io, async ({ tessera }) =>
      tessera.enableUser((await userNamed(tessera, username)).id),
    );
    io.out(`Enabled user ${username}.`);
  });

  withStoreOptions(
    users
      .command("delete")
      .description("delete a user and their data; every session and socket of theirs ends at once")
      .argument("<username>")
      .option("-y, --yes", "do not ask for confirmation (needed without a terminal)"),
  ).action(async (username: string, options: { yes?: boolean }, command: Command) => {
    await confirmDelete(io, username, options.yes === true);
    const ended = await withEngine(command, io, async ({ tessera }) =>
      tessera.deleteUser((await userNamed(tessera, username)).id),
    );
    io.out(`Deleted user ${username}; ${sessions(ended)} ended.`);
  });

  const identityOptions = (command: Command): Command =>
    command
      .requiredOption("--provider <name>", "the provider, e.g. signed-payload")
      .option(
        "--issuer <partner>",
        "the partner or issuer inside the provider (signed-payload: the key's partner)",
        "",
      )
      .requiredOption("--subject <id>", "the partner's id of the person (signed-payload: the payload's sub)");

  withStoreOptions(
    identityOptions(
      users
        .command("link")
        .description("link a provider identity to a user: that provider's logins of it become this user's")
        .argument("<username>"),
    ),
  ).action(async (username: string, options: IdentityFlags, command: Command) => {
    const linked = await withEngine(command, io, async ({ tessera }) =>
      tessera.linkIdentity({ ...identityOf(options), userId: (await userNamed(tessera, username)).id }),
    );
    io.out(`Linked ${describeIdentity(linked)} to user ${username}.`);
  });

  withStoreOptions(
    identityOptions(
      users
        .command("unlink")
        .description("unlink a provider identity; its next login is a first sight again"),
    ),
  ).action(async (options: IdentityFlags, command: Command) => {
    const identity = identityOf(options);
    const removed = await withEngine(command, io, ({ tessera }) => tessera.unlinkIdentity(identity));
    if (!removed) throw new TesseraError("not_found", `${describeIdentity(identity)} is not linked.`);
    io.out(`Unlinked ${describeIdentity(identity)}.`);
  });

  withStoreOptions(
    users
      .command("identities")
      .description("list the provider identities linked to a user")
      .argument("<username>")
      .option("--json", "print JSON"),
  ).action(async (username: string, options: { json?: boolean }, command: Command) => {
    const linked = await withEngine(command, io, async ({ tessera }) =>
      tessera.listIdentities((await userNamed(tessera, username)).id),
    );
    printRows(
      io,
      linked.map(({ provider, issuer, subject, linkedAt }) => ({ provider, issuer, subject, linkedAt })),
      { json: options.json === true, empty: `No identities are linked to ${username}.` },
    );
  });

  return users;
}

interface IdentityFlags {
  readonly provider: string;
  readonly issuer: string;
  readonly subject: string;
}

function identityOf(options: IdentityFlags): IdentityKey {
  return { provider: options.provider, issuer: options.issuer, subject: options.subject };
}

function describeIdentity(identity: IdentityKey): string {
  return `${identity.provider} identity ${JSON.stringify(identity.subject)}${identity.issuer === "" ? "" : ` of ${identity.issuer}`}`;
}
