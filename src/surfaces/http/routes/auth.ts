/**
 * The account and token routes: register, upgrade of an access JWT to a session token,
 * refresh, logout and logout-all (optionally keeping the caller's session; login, with its request formats, is `login.ts`). Each is parse → one
 * engine call → write; the engine decides every refusal.
 *
 * Cookies: a response that hands out a session token (upgrade, and refresh of an upgraded
 * session) also sets the `tessera_session` cookie so that a browser can use it; logout and
 * logout-all remove it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as z from "zod";
import type { TokenPair } from "../../../engine/types.js";
import { TesseraError } from "../../../errors.js";
import { extractCredential } from "../auth.js";
import type { HttpContext } from "../context.js";
import { fastifyAuthRequest } from "../context.js";
import { parseBody } from "../validation.js";

export const registerBody = z
  .object({
    username: z.string().min(1).max(256),
    password: z.string().min(1).max(4096),
  })
  .strict();

export const refreshBody = z.object({ refreshToken: z.string().min(1).max(8192) }).strict();

/**
 * Upgrade takes its JWT from the Bearer header; a body may name the same token (seed 000).
 * No body, `null` and `{}` all mean "the Bearer token".
 */
export const upgradeBody = z
  .object({ token: z.string().min(1).max(8192).optional() })
  .strict()
  .nullish();

export const logoutAllBody = z.object({ keepCurrent: z.boolean().optional() }).strict().nullish();

export async function authRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { tessera } = ctx;

  app.post("/auth/register", async (request, reply) => {
    const body = parseBody(registerBody, request.body, "registration");
    const user = await tessera.register({ ...body, metadata: ctx.metadata(request) });
    return reply.code(201).send({ user });
  });

  app.post("/auth/upgrade", async (request, reply) => {
    const body = parseBody(upgradeBody, request.body, "upgrade request");
    const credential = extractCredential(fastifyAuthRequest(request));
    const bearer = credential?.source === "bearer" ? credential.token : undefined;
    if (bearer !== undefined && body?.token !== undefined && body.token !== bearer) {
      throw new TesseraError("invalid_request", "The body's token is not the Bearer token.", {
        issues: [{ path: "token", message: "must be the same JWT as the Authorization header" }],
      });
    }
    const token = bearer ?? body?.token;
    if (token === undefined) {
      throw new TesseraError("token_invalid", "Send the access JWT as `Authorization: Bearer <token>`.");
    }
    const pair = await tessera.upgrade(token, ctx.metadata(request));
    sendPairWithCookie(ctx, request, reply, pair);
    return reply;
  });

  app.post("/auth/refresh", async (request, reply) => {
    const { refreshToken } = parseBody(refreshBody, request.body, "refresh request");
    const pair = await tessera.refresh(refreshToken, { metadata: ctx.metadata(request) });
    sendPairWithCookie(ctx, request, reply, pair);
    return reply;
  });

  app.post("/auth/logout", async (request, reply) => {
    const { session } = await ctx.authenticate(request);
    await tessera.logout(session.id, ctx.metadata(request));
    ctx.clearSessionCookie(request, reply);
    return reply.code(204).send();
  });

  // `{"keepCurrent": true}` ends every *other* session (the sessions page's "sign out all
  // other sessions"); the caller's session, cookie and sockets stay.
  app.post("/auth/logout-all", async (request, reply) => {
    const { session, user } = await ctx.authenticate(request);
    const body = parseBody(logoutAllBody, request.body, "logout-all request");
    if (body?.keepCurrent === true) {
      await tessera.logoutAll(user.id, { keepSessionId: session.id, metadata: ctx.metadata(request) });
      return reply.code(204).send();
    }
    await tessera.logoutAll(user.id, { metadata: ctx.metadata(request) });
    ctx.clearSessionCookie(request, reply);
    return reply.code(204).send();
  });
}

function sendPairWithCookie(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  pair: TokenPair,
): void {
  if (pair.tokenType === "session") {
    ctx.setSessionCookie(request, reply, pair.accessToken, new Date(pair.refreshExpiration));
  }
  reply.send(pair);
}
