/**
 * `GET /account/sessions`, rendered: the signed-in user's live sessions, this device first
 * and marked, the others by last activity. Each shows what a person recognises a device by
 * (browser, OS, device class from the user agent; the name the client gave it at login; its
 * IP) and when it signed in, was last active and expires — relative, with the absolute UTC
 * time in the `<time>` element (and, once the script runs, in local time on hover). The
 * buttons carry the session ids; `sessions-script.ts` does the rest. Below the sessions, the
 * account's recent sign-ins and ended sessions (`activity.ts`).
 */
import type { PublicUser, Session } from "../../../engine/types.js";
import { type ActivityPage, activitySection } from "./activity.js";
import { describeDevice } from "./device.js";
import { escapeHtml, renderPage, SESSIONS_SCRIPT_PATH } from "./html.js";
import { relativeTime, utcMinute } from "./time.js";

export interface SessionsPageInput {
  readonly user: PublicUser;
  readonly sessions: readonly Session[];
  readonly currentSessionId: string;
  /** The first page of the account's recent activity (`activity.ts`). */
  readonly activity: ActivityPage;
  /** The engine's clock, for "5 minutes ago". */
  readonly now: number;
}

export function sessionsPage(input: SessionsPageInput): string {
  const ordered = [...input.sessions].sort((a, b) => {
    if (a.id === input.currentSessionId) return -1;
    if (b.id === input.currentSessionId) return 1;
    return Date.parse(b.lastSeenAt) - Date.parse(a.lastSeenAt);
  });
  const others = ordered.filter((session) => session.id !== input.currentSessionId).length;
  const items = ordered.map((session) =>
    sessionItem(session, session.id === input.currentSessionId, input.now),
  );
  const main = `<h1 id="title" tabindex="-1">Your sessions</h1>
<p class="lead">Signed in as <strong>${escapeHtml(input.user.username)}</strong>. These are the devices and browsers signed in to your account. If you do not recognise one, sign it out.</p>
<p id="status" class="status" role="status" aria-live="polite" tabindex="-1"></p>
<ul class="sessions" aria-labelledby="title">
${items.join("\n")}
</ul>
<section id="others" class="others" aria-label="Other sessions">
<button type="button" class="danger" data-action="revoke-others"${others === 0 ? " hidden" : ""}>Sign out all other sessions</button>
<p class="none hint"${others === 0 ? "" : " hidden"}>No other sessions are signed in.</p>
</section>
${activitySection({ ...input.activity, currentSessionId: input.currentSessionId, now: input.now })}`;
  return renderPage({ title: "Your sessions", main, script: SESSIONS_SCRIPT_PATH });
}

function sessionItem(session: Session, current: boolean, now: number): string {
  const device = describeDevice(session.metadata.userAgent);
  const id = escapeHtml(session.id);
  const titleId = `session-title-${id}`;
  const title = `${device.browser} on ${device.os}`;
  const name = session.deviceName === null ? "" : ` · ${escapeHtml(session.deviceName)}`;
  const action = current
    ? `<button type="button" class="secondary" data-action="sign-out" aria-describedby="${titleId}">Sign out of this device</button>`
    : `<button type="button" class="danger" data-action="revoke" data-session-id="${id}" aria-describedby="${titleId}">Sign out</button>`;
  return `<li class="session${current ? " current" : ""}" data-session-id="${id}">
<div class="session-head"><h2 id="${titleId}">${escapeHtml(title)}</h2>${current ? '<span class="badge this">This device</span>' : ""}<span class="badge">${escapeHtml(device.kind)}</span></div>
<dl class="details">
<div><dt>Device</dt><dd>${escapeHtml(device.kind)}${name}</dd></div>
<div><dt>IP address</dt><dd>${escapeHtml(session.metadata.ipAddress ?? "unknown")}</dd></div>
<div><dt>Signed in</dt><dd>${timeElement(session.createdAt, now)}</dd></div>
<div><dt>Last active</dt><dd>${current ? "Now" : timeElement(session.lastSeenAt, now)}</dd></div>
<div><dt>Expires</dt><dd>${timeElement(session.expiresAt, now)}</dd></div>
</dl>
<div class="session-actions">${action}</div>
</li>`;
}

function timeElement(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "unknown";
  return `<time datetime="${escapeHtml(iso)}" title="${utcMinute(at)}">${relativeTime(at - now)}</time>`;
}
