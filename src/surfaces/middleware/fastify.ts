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
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import type { Tessera } from "../../engine/tessera.js";
import type { AuthContext, AuthOptions } from "../http/auth.js";
import { requireCredential } from "../http/auth.js";
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

/**
 * A callback-style hook, not an async one: a session the engine has in memory
 * (`validateSync`) is let through at once, without a promise or a microtask turn; any
 * other credential goes through `validate`, which gives every refusal its reason.
 */
export function tesseraGuard(options: FastifyGuardOptions): preHandlerHookHandler {
  const { tessera, ...auth } = options;
  const freshness = auth.maxAge === undefined ? {} : { maxAge: auth.maxAge };
  const refuse = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    const visible = clientError(error);
    if (visible.code === "internal_error") request.log.error({ err: error }, "tessera guard failed");
    const { status, headers, body } = errorResponse(visible);
    reply.code(status).headers(headers).send(body);
  };
  return function tesseraGuardHook(request, reply, done) {
    const authRequest = fastifyAuthRequest(request);
    let credential: ReturnType<typeof requireCredential>;
    try {
      credential = requireCredential(authRequest, auth);
    } catch (error) {
      refuse(request, reply, error);
      return;
    }
    const via = credential.source;
    // `maxAge` is checked against the engine's clock by `validate`.
    const hit = auth.maxAge === undefined ? tessera.validateSync(credential.token) : null;
    if (hit !== null) {
      request.tessera = { ...hit, via };
      done();
      return;
    }
    tessera.validate(credential.token, { ipAddress: authRequest.clientAddress ?? null }, freshness).then(
      (validated) => {
        request.tessera = { ...validated, via };
        done();
      },
      (error: unknown) => refuse(request, reply, error),
    );
  };
}
