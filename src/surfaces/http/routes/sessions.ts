/**
 * The caller's own sessions: the current one and its user (`GET /auth/session`), its `data`
 * (`PUT /auth/session/data`), the list of live ones (`GET /auth/sessions`) and ending one
 * by id (`DELETE /auth/sessions/:id`; another user's id is `not_found`, never `forbidden`,
 * so ids cannot be probed).
 */
import type { FastifyInstance } from "fastify";
import type { JsonValue } from "../../../engine/types.js";
import { TesseraError } from "../../../errors.js";
import type { HttpContext } from "../context.js";

export async function sessionRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { tessera } = ctx;

  // The user beside the session: a client should not need a second call to know who it is.
  app.get("/auth/session", async (request) => {
    const { session, user } = await ctx.authenticate(request);
    return { session, user };
  });

  app.put("/auth/session/data", async (request) => {
    const { session } = await ctx.authenticate(request);
    // The JSON parser yields undefined only for an absent body; `null` is a valid value.
    if (request.body === undefined) {
      throw new TesseraError("invalid_request", "Send the session data as a JSON body.", {
        issues: [{ path: "(body)", message: "is required" }],
      });
    }
    return { session: await tessera.setSessionData(session.id, request.body as JsonValue) };
  });

  app.get("/auth/sessions", async (request) => {
    const { session, user } = await ctx.authenticate(request);
    return { sessions: await tessera.listSessions(user.id), currentSessionId: session.id };
  });

  app.delete<{ Params: { id: string } }>("/auth/sessions/:id", async (request, reply) => {
    const { user } = await ctx.authenticate(request);
    await tessera.revokeSession(request.params.id, {
      ownerId: user.id,
      reason: "revoked",
      metadata: ctx.metadata(request),
    });
    return reply.code(204).send();
  });
}
