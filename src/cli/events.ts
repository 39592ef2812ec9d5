/**
 * `tessera events`: the security log as JSON lines, newest first — one event per line, for
 * `jq`, `grep` or a log shipper. Filters: `--user <username>`, `--kind <k,…>`,
 * `--since <ISO time>`, `--until <ISO time>`, `--limit <n>` (default 100).
 */
import { Command, InvalidArgumentError } from "commander";
import { MAX_EVENT_PAGE } from "../engine/security-events.js";
import { isSecurityEventKind, SECURITY_EVENT_KINDS } from "../engine/security-log.js";
import type { SecurityEventKind } from "../engine/types.js";
import { TesseraError } from "../errors.js";
import type { CliIO } from "./io.js";
import { withEngine, withStoreOptions } from "./store-options.js";

/** The most `--limit` allows in one run. */
const MAX_LIMIT = 100_000;

function kindsOf(text: string): SecurityEventKind[] {
  const kinds = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  const unknown = kinds.filter((kind) => !isSecurityEventKind(kind));
  if (kinds.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown kind ${unknown.join(", ") || "(none)"}; kinds: ${SECURITY_EVENT_KINDS.join(", ")}`,
    );
  }
  return kinds as SecurityEventKind[];
}

function timeOf(text: string): number {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) {
    throw new InvalidArgumentError("must be an ISO-8601 time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z");
  }
  return ms;
}

function limitOf(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_LIMIT) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return n;
}

interface EventsOptions {
  user?: string;
  kind?: SecurityEventKind[];
  since?: number;
  until?: number;
  limit: number;
}

export function eventsCommand(io: CliIO): Command {
  return withStoreOptions(
    new Command("events")
      .description("print security events as JSON lines, newest first")
      .option("-u, --user <username>", "only this user's events")
      .option("-k, --kind <kinds>", `comma list of kinds (${SECURITY_EVENT_KINDS.join(", ")})`, kindsOf)
      .option("--since <time>", "only events at or after this ISO-8601 time", timeOf)
      .option("--until <time>", "only events before this ISO-8601 time", timeOf)
      .option("-n, --limit <n>", "at most this many events", limitOf, 100),
  ).action(async (options: EventsOptions, command: Command) => {
    await withEngine(command, io, async ({ tessera }) => {
      let userId: number | undefined;
      if (options.user !== undefined) {
        const user = await tessera.findUser(options.user);
        if (user === null) throw new TesseraError("not_found", `No user named ${options.user}.`);
        userId = user.id;
      }
      let remaining = options.limit;
      let before: string | undefined;
      while (remaining > 0) {
        const page = await tessera.listSecurityEvents({
          limit: Math.min(remaining, MAX_EVENT_PAGE),
          ...(userId === undefined ? {} : { userId }),
          ...(options.kind === undefined ? {} : { kinds: options.kind }),
          ...(options.since === undefined ? {} : { since: options.since }),
          ...(options.until === undefined ? {} : { until: options.until }),
          ...(before === undefined ? {} : { before }),
        });
        for (const event of page.events) io.out(JSON.stringify(event));
        remaining -= page.events.length;
        if (page.next === null) break;
        before = page.next;
      }
    });
  });
}
