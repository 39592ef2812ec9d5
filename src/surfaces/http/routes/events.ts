/**
 * `GET /auth/events`: the signed-in user's own security events, newest first, a page at a
 * time (`?limit=1..200`, default 50; `?before=<next>` for the following page; `?kind=a,b`
 * to choose kinds). The user id comes from the credential, never from the query, so
 * another user's events cannot be asked for; a `before` cursor taken from someone else's
 * page only moves the window over one's own events.
 */
import type { FastifyInstance } from "fastify";
import * as z from "zod";
import { isSecurityEventKind } from "../../../engine/security-log.js";
import type { SecurityEventKind } from "../../../engine/types.js";
import type { HttpContext } from "../context.js";
import { parseBody } from "../validation.js";

/** The largest page this route returns. */
const MAX_PAGE = 200;

export const eventsQuery = z
  .object({
    limit: z
      .string()
      .regex(/^\d{1,4}$/, "must be a whole number")
      .transform(Number)
      .refine((n) => n >= 1 && n <= MAX_PAGE, `must be from 1 to ${MAX_PAGE}`)
      .optional(),
    before: z
      .string()
      .regex(/^[0-9a-z-]{1,64}$/, "must be the `next` of an earlier page")
      .optional(),
    kind: z
      .string()
      .max(1000)
      .transform((text) => text.split(",").filter((part) => part !== ""))
      .refine((kinds) => kinds.length > 0 && kinds.every(isSecurityEventKind), "must name known event kinds")
      .optional(),
  })
  .strict();

export async function eventRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get("/auth/events", async (request) => {
    const { user } = await ctx.authenticate(request);
    const query = parseBody(eventsQuery, request.query ?? {}, "events query");
    const page = await ctx.tessera.listSecurityEvents({
      userId: user.id,
      limit: query.limit ?? 50,
      ...(query.before === undefined ? {} : { before: query.before }),
      ...(query.kind === undefined ? {} : { kinds: query.kind as SecurityEventKind[] }),
    });
    return page.next === null ? { events: page.events } : { events: page.events, next: page.next };
  });
}
