/**
 * CORS for `--cors-origins` (contract "Deployment"): an allowlist of origins whose pages may
 * call the API from a browser with credentials.
 *
 * - An allowlisted `Origin` gets `Access-Control-Allow-Origin: <that origin>` (never `*`:
 *   browsers refuse a wildcard with credentials, and a wildcard would hand every site the
 *   answers), `Access-Control-Allow-Credentials: true`, and the headers a client reads
 *   (`Retry-After`).
 * - Every answer carries `Vary: Origin` once an allowlist is set, so a shared cache never
 *   serves one origin's CORS answer to another.
 * - A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowlisted origin
 *   is answered here, before routing, with 204. From any other origin it is refused with
 *   `403 forbidden` and no CORS headers: the browser then blocks the request, and whoever
 *   reads the network panel sees why. An `OPTIONS` that is not a preflight (a link
 *   scanner's) reaches its route as before.
 *
 * What allowlisted origins may do: read with the cookie, and anything with `Authorization:
 * Bearer`. The preflight grants `Authorization` and `Content-Type` but not
 * `X-Tessera-CSRF`, so the cross-site rule for cookie-authenticated changes (`auth.ts`)
 * stays as it was: another origin's page changes state with a Bearer token, never with the
 * cookie (an origin that must do so belongs in `--link-origins`, the CSRF-trusted list).
 */
import type { FastifyInstance } from "fastify";
import { TesseraError } from "../../errors.js";
import { errorResponse } from "./errors.js";

const ALLOW_METHODS = "GET, HEAD, POST, PUT, DELETE";
const ALLOW_HEADERS = "authorization, content-type";
/** Browsers cap this anyway (Chromium at 2 h); ten minutes keeps allowlist changes quick. */
const MAX_AGE_SECONDS = "600";

export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("vary", "Origin");
    const origin = request.headers.origin;
    const listed = origin !== undefined && allowed.has(origin);
    if (listed) {
      reply.header("access-control-allow-origin", origin);
      reply.header("access-control-allow-credentials", "true");
      reply.header("access-control-expose-headers", "Retry-After");
    }
    const preflight =
      request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (!preflight || origin === undefined) return done();
    if (!listed) {
      const { status, body } = errorResponse(
        new TesseraError("forbidden", "This origin is not allowed to call the API (see --cors-origins)."),
      );
      reply.code(status).send(body);
      return;
    }
    reply
      .code(204)
      .headers({
        "access-control-allow-methods": ALLOW_METHODS,
        "access-control-allow-headers": ALLOW_HEADERS,
        "access-control-max-age": MAX_AGE_SECONDS,
      })
      .send();
  });
}
