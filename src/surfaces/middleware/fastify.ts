/**
 * A Fastify guard for applications that embed Tessera: a `preHandler` hook that validates
 * the Bearer token or the `tessera_session` cookie (CSRF rule included) through the
 * engine and puts `{session, user, credential, via}` on `request.tessera`, or answers the
 * contract's error body; with `maxAge` (seconds), a session whose user last proved who they
 * are longer ago answers 403 `reauthentication_required`. The same `authenticate` as the
 * HTTP API.
 *
 * ```ts
 * const guard = tesseraGuard({ tessera });
 * app.get("/me", { preHandler: guard }, (request) => request.tessera?.user);
 * ```
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { Tessera } from "../../engine/tessera.js";
import type { AuthContext, AuthOptions } from "../http/auth.js";
import { authenticate } from "../http/auth.js";
import { fastifyAuthRequest } from "../http/context.js";
import { clientError, errorResponse } from "../http/errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by `tesseraGuard` once the caller is authenticated. */
    tessera?: AuthContext;
  }
}

export interface FastifyGuardOptions extends AuthOptions {
  readonly tessera: Tessera;
}

export function tesseraGuard(options: FastifyGuardOptions): preHandlerAsyncHookHandler {
  const { tessera, ...auth } = options;
  return async function tesseraGuardHook(request: FastifyRequest, reply: FastifyReply) {
    try {
      const { token: _token, ...context } = await authenticate(tessera, fastifyAuthRequest(request), auth);
      request.tessera = context;
    } catch (error) {
      const visible = clientError(error);
      if (visible.code === "internal_error") request.log.error({ err: error }, "tessera guard failed");
      const { status, headers, body } = errorResponse(visible);
      return reply.code(status).headers(headers).send(body);
    }
  };
}
