/**
 * Reading the security log: `GET /auth/events` (a user's own, paged) and `tessera events`
 * (any user, filtered) both come here. Pages go newest first by event id; `next` is the
 * cursor for the following page, absent on the last one.
 */
import type { SecurityEventQuery } from "../stores/session-store.js";
import { type EngineContext, fromStore } from "./context.js";
import { toPublicEvent } from "./security-log.js";
import type { SecurityEvent, SecurityEventKind } from "./types.js";

/** @default 50 */
export const DEFAULT_EVENT_PAGE = 50;
/** The largest page one call returns. */
export const MAX_EVENT_PAGE = 1000;

export interface SecurityEventFilter {
  /** Only this user's events. */
  readonly userId?: number;
  readonly kinds?: readonly SecurityEventKind[];
  /** At or after (ms since the epoch, or a Date). */
  readonly since?: number | Date;
  /** Before. */
  readonly until?: number | Date;
  /** The `next` of the previous page: only older events. */
  readonly before?: string;
  /** 1 to 1000. @default 50 */
  readonly limit?: number;
}

export interface SecurityEventPage {
  readonly events: SecurityEvent[];
  /** Pass as `before` for the next page; null when there is none. */
  readonly next: string | null;
}

export async function listSecurityEvents(
  ctx: EngineContext,
  filter: SecurityEventFilter = {},
): Promise<SecurityEventPage> {
  const limit = filter.limit ?? DEFAULT_EVENT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
    throw new TypeError(`listSecurityEvents: limit must be a whole number from 1 to ${MAX_EVENT_PAGE}`);
  }
  const query: SecurityEventQuery = {
    limit: limit + 1,
    ...(filter.userId === undefined ? {} : { userId: filter.userId }),
    ...(filter.kinds === undefined ? {} : { kinds: filter.kinds }),
    ...(filter.since === undefined ? {} : { since: +filter.since }),
    ...(filter.until === undefined ? {} : { until: +filter.until }),
    ...(filter.before === undefined ? {} : { beforeId: filter.before }),
  };
  const found = await fromStore(ctx.store.listSecurityEvents(query));
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  return {
    events: page.map(toPublicEvent),
    next: found.length > limit && last !== undefined ? last.id : null,
  };
}
