/**
 * The sessions page's "Recent activity": this account's sign-ins (and failed ones), new
 * devices, ended sessions with why, and password changes, newest first, from the security
 * log. The page shows the first `ACTIVITY_PAGE` events; "Show more" fetches the next ones as
 * a fragment (`GET /account/sessions/activity?before=<cursor>`, the cursor `GET /auth/events`
 * pages with), and the script fetches the first page again after a revocation. Page and
 * fragment come from this one renderer, so a device reads as it does in the sessions list
 * (`describeDevice`) and every value passes `escapeHtml` in one place.
 *
 * An event shows its kind, time, reason, user agent and address — never its session id,
 * username key, device fingerprint or link ids. Kinds a person cannot act on (refreshes,
 * upgrades, `session_created`, which repeats the sign-in) are left out of the list.
 *
 * One sign-in is one entry. A sign-in from a new device is logged twice: its
 * `login_succeeded`, then — after the recorder has compared the device with earlier ones —
 * a `new_device` with the same session id, so a higher id (the recorder's ids only grow) and
 * maybe other events between. The entry stands where the `login_succeeded` is and reads
 * "Sign-in from a new device". So that no page leaves half a sign-in to the next (which
 * could not tell, from its cursor, that its `login_succeeded` was already answered for), a
 * page ends only after the login of every `new_device` on it: usually `ACTIVITY_PAGE`
 * entries, a few more when the two events straddle the boundary with others between.
 * A `new_device` whose login is not found (pruned, or further than `PAIR_LOOKAHEAD` events
 * down, which only a flood of events in those milliseconds could cause) is shown on its own;
 * a login found on a later page after all would then read "Signed in" there.
 *
 * A `session_revoked` carries the address and agent of the request that ended the session
 * (another device's "Sign out", a reused refresh token's sender), not of the session that
 * ended; so the ended session is described from its own `session_created` — found among the
 * user's `SESSION_LOOKBACK` latest before the revocation — and the request after "By".
 */
import type { SecurityEventPage } from "../../../engine/security-events.js";
import type { Tessera } from "../../../engine/tessera.js";
import type { SecurityEvent, SecurityEventKind } from "../../../engine/types.js";
import { describeDevice } from "./device.js";
import { escapeHtml } from "./html.js";
import { relativeTime, utcMinute } from "./time.js";

export const ACTIVITY_KINDS = [
  "login_succeeded",
  "login_failed",
  "new_device",
  "session_revoked",
  "password_changed",
  "link_redeemed",
] as const satisfies readonly SecurityEventKind[];

/** Events per page of the list. */
export const ACTIVITY_PAGE = 10;

/** How many sessions back an ended session's start is looked for. */
const SESSION_LOOKBACK = 200;

/** Events read at once while filling a page: a page and its `new_device` events, usually. */
const BATCH = 2 * ACTIVITY_PAGE;

/**
 * How many events past a page's own a `new_device`'s login is looked for. Only events
 * recorded while the recorder checked the device lie between the two: a handful at most.
 */
const PAIR_LOOKAHEAD = 100;

/** What `session_revoked`'s `detail.reason` means to the account's owner. */
const ENDED: Readonly<Record<string, string>> = {
  logout: "Signed out",
  logout_all: "Signed out everywhere",
  revoked: "Ended from another device",
  revoked_by_admin: "Ended by an administrator",
  device_replaced: "Replaced by a new sign-in on the same device",
  refresh_token_reused: "Refresh token reused — possible theft",
  password_changed: "Password changed",
  user_disabled: "Account disabled",
  user_deleted: "Account deleted",
  hook_failed: "Ended by the server after an error",
};

/** What `login_failed`'s `detail.reason` means. */
const FAILED: Readonly<Record<string, string>> = {
  invalid_credentials: "Wrong password",
  user_disabled: "Account disabled",
};

/** Reasons worth a second look: shown with the warning style. */
const ALARMING: ReadonlySet<string> = new Set(["refresh_token_reused"]);

/** Longest user agent shown as it was sent (when it names no browser we know). */
const RAW_AGENT_CHARS = 160;

/** A page of activity, and how the sessions it shows ending had started. */
export interface ActivityPage extends SecurityEventPage {
  /** `session_created` events by session id. */
  readonly started: ReadonlyMap<string, SecurityEvent>;
  /** Sessions whose `login_succeeded` on this page had a `new_device`: it reads so. */
  readonly newDevice: ReadonlySet<string>;
}

/** The user's activity, newest first, from `before` (a page's `next`) when given. */
export async function loadActivity(
  tessera: Pick<Tessera, "listSecurityEvents">,
  userId: number,
  before?: string,
): Promise<ActivityPage> {
  const page = await signInPage(tessera, userId, before);
  const ended = page.events.filter((event) => event.kind === "session_revoked" && event.sessionId !== null);
  const newest = ended[0];
  if (newest === undefined) return { ...page, started: new Map() };
  const starts = await tessera.listSecurityEvents({
    userId,
    kinds: ["session_created"],
    before: newest.id,
    limit: SESSION_LOOKBACK,
  });
  const wanted = new Set(ended.map((event) => event.sessionId));
  const started = new Map<string, SecurityEvent>();
  for (const start of starts.events) {
    if (start.sessionId !== null && wanted.has(start.sessionId)) started.set(start.sessionId, start);
  }
  return { ...page, started };
}

/**
 * The page's events with each `new_device` folded into its login (see the module note):
 * read on until the page has `ACTIVITY_PAGE` entries and no `new_device` on it waits for
 * its login, the log ends, or `PAIR_LOOKAHEAD` events past the page's own were read.
 */
async function signInPage(
  tessera: Pick<Tessera, "listSecurityEvents">,
  userId: number,
  before: string | undefined,
): Promise<Omit<ActivityPage, "started">> {
  const read: SecurityEvent[] = [];
  /** Sessions of the `new_device` events read whose login is not read yet. */
  const waiting = new Set<string>();
  const paired = new Set<string>();
  let entries = 0;
  let cursor = before;
  let more = true;
  const full = () => entries >= ACTIVITY_PAGE && waiting.size === 0;
  while (more && !full() && read.length < ACTIVITY_PAGE + PAIR_LOOKAHEAD) {
    const batch = await tessera.listSecurityEvents({
      userId,
      kinds: ACTIVITY_KINDS,
      limit: BATCH,
      ...(cursor === undefined ? {} : { before: cursor }),
    });
    let taken = 0;
    for (const event of batch.events) {
      if (full()) break;
      taken += 1;
      read.push(event);
      if (event.kind === "new_device" && event.sessionId !== null) {
        waiting.add(event.sessionId);
      } else if (
        event.kind === "login_succeeded" &&
        event.sessionId !== null &&
        waiting.has(event.sessionId)
      ) {
        waiting.delete(event.sessionId);
        paired.add(event.sessionId);
        entries += 1;
      } else {
        entries += 1;
      }
    }
    cursor = read[read.length - 1]?.id;
    more = taken < batch.events.length || batch.next !== null;
  }
  // Folded: a `new_device` whose login is on this page. One still waiting is shown alone.
  const events = read.filter(
    (event) => !(event.kind === "new_device" && event.sessionId !== null && paired.has(event.sessionId)),
  );
  return { events, next: more && cursor !== undefined ? cursor : null, newDevice: paired };
}

export interface ActivityInput extends ActivityPage {
  /** Events of this session get the "This session" badge. */
  readonly currentSessionId: string;
  /** The engine's clock, for "5 minutes ago". */
  readonly now: number;
}

/** The section of the sessions page. */
export function activitySection(input: ActivityInput): string {
  const more = input.next === null ? " hidden" : ` data-before="${escapeHtml(input.next)}"`;
  return `<section id="activity" class="activity" aria-labelledby="activity-title">
<h2 id="activity-title">Recent activity</h2>
<p class="hint">Sign-ins, failed sign-ins and ended sessions of your account, newest first. If one was not you, sign that session out and change your password.</p>
${activityList(input, ' id="activity-list"')}
<p class="hint activity-none"${input.events.length === 0 ? "" : " hidden"}>No activity yet.</p>
<button type="button" class="secondary" data-action="more-activity"${more}>Show more activity</button>
</section>`;
}

/** The fragment the script fetches: the list alone, its `data-next` the following cursor. */
export function activityFragment(input: ActivityInput): string {
  return `${activityList(input, "")}\n`;
}

function activityList(input: ActivityInput, attributes: string): string {
  const next = input.next === null ? "" : ` data-next="${escapeHtml(input.next)}"`;
  const items = input.events.map((event) => eventItem(event, input));
  return `<ol class="events"${attributes}${next} aria-labelledby="activity-title">
${items.join("\n")}
</ol>`;
}

function eventItem(event: SecurityEvent, input: ActivityInput): string {
  const fromNewDevice =
    event.kind === "login_succeeded" && event.sessionId !== null && input.newDevice.has(event.sessionId);
  const kind = fromNewDevice ? "new_device" : event.kind;
  const { title, reason, alarming } = describeEvent(event, kind);
  const current =
    event.sessionId !== null && event.sessionId === input.currentSessionId
      ? ' <span class="badge this">This session</span>'
      : "";
  const lines: string[] = [];
  if (reason !== null) lines.push(`<p class="event-reason">${escapeHtml(reason)}</p>`);
  if (event.kind === "session_revoked") {
    const start = event.sessionId === null ? undefined : input.started.get(event.sessionId);
    const session = start === undefined ? null : whereHtml(start, start.detail.deviceName);
    if (session !== null) lines.push(`<p class="event-where">${session}</p>`);
    // A logout is the session's own request: "by" would name the same device again.
    const by = event.detail.reason === "logout" ? null : whereHtml(event);
    if (by !== null) lines.push(`<p class="event-by">By ${by}</p>`);
  } else {
    const where = whereHtml(event);
    if (where !== null) lines.push(`<p class="event-where">${where}</p>`);
  }
  return `<li class="event${alarming ? " alarming" : ""}" data-kind="${escapeHtml(kind)}">
<p class="event-title"><strong>${escapeHtml(title)}</strong>${current}</p>
${lines.length === 0 ? "" : `${lines.join("\n")}\n`}<p class="event-time">${timeText(event.at, input.now)}</p>
</li>`;
}

interface EventText {
  readonly title: string;
  readonly reason: string | null;
  readonly alarming: boolean;
}

/** `kind` is the event's, or `new_device` for a login folded with its `new_device`. */
function describeEvent(event: SecurityEvent, kind: SecurityEventKind): EventText {
  const reason = typeof event.detail.reason === "string" ? event.detail.reason : null;
  switch (kind) {
    case "login_succeeded": {
      const provider = event.detail.provider;
      const how = typeof provider === "string" && provider !== "password" ? ` with ${provider}` : "";
      return { title: `Signed in${how}`, reason: null, alarming: false };
    }
    case "link_redeemed":
      return { title: "Signed in with a link", reason: null, alarming: false };
    case "login_failed":
      return { title: "Failed sign-in", reason: explained(FAILED, reason), alarming: true };
    case "new_device":
      return { title: "Sign-in from a new device", reason: null, alarming: true };
    case "session_revoked":
      return {
        title: "Session ended",
        reason: explained(ENDED, reason),
        alarming: reason !== null && ALARMING.has(reason),
      };
    case "password_changed":
      return { title: "Password changed", reason: null, alarming: false };
    default:
      // A kind this page does not ask for (the query names `ACTIVITY_KINDS`): its name.
      return { title: kind.replaceAll("_", " "), reason: null, alarming: false };
  }
}

/** A known reason in words; an unknown one (a plugin's own) as it was recorded. */
function explained(table: Readonly<Record<string, string>>, reason: string | null): string | null {
  if (reason === null) return null;
  return table[reason] ?? `Reason: ${reason.replaceAll("_", " ")}`;
}

/**
 * "Chrome 131 on Linux (Desktop) · Work laptop · IP 203.0.113.7" (the name when given), each
 * part escaped and kept whole on a narrow screen where it fits, or null when the event has
 * no agent or address.
 */
function whereHtml(event: SecurityEvent, name?: unknown): string | null {
  const parts: string[] = [];
  const agent = event.userAgent?.trim() ?? "";
  if (agent !== "") {
    const device = describeDevice(agent);
    // An agent no parser places (a script, or something hostile) is shown as sent: what the
    // owner needs to recognise it.
    parts.push(
      device.browser === "Unknown browser"
        ? `Unknown browser “${clipped(agent)}”`
        : `${device.browser} on ${device.os} (${device.kind})`,
    );
  }
  if (typeof name === "string" && name.trim() !== "") parts.push(name.trim());
  if (event.ipAddress !== null && event.ipAddress !== "") parts.push(`IP ${event.ipAddress}`);
  if (parts.length === 0 && event.surface === "cli") parts.push("the command line");
  if (parts.length === 0) return null;
  return parts.map((part) => `<span class="part">${escapeHtml(part)}</span>`).join(" · ");
}

function clipped(text: string): string {
  if (text.length <= RAW_AGENT_CHARS) return text;
  // Never between the two halves of a surrogate pair: half a character is not text.
  const high = text.charCodeAt(RAW_AGENT_CHARS - 1);
  const end = high >= 0xd800 && high <= 0xdbff ? RAW_AGENT_CHARS - 1 : RAW_AGENT_CHARS;
  return `${text.slice(0, end)}…`;
}

/** The absolute time (the script turns it into the reader's locale), then how long ago. */
function timeText(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "unknown time";
  return `<time datetime="${escapeHtml(iso)}" data-local="">${utcMinute(at)}</time> · ${relativeTime(at - now)}`;
}
