/**
 * A Hono guard for applications that embed Tessera: validates the Bearer token or the
 * `tessera_session` cookie (CSRF rule included) through the engine and sets
 * `c.get("tessera")` to `{session, user, credential, via}`, or answers the contract's error
 * body; with `maxAge` (seconds), a session whose user last proved who they are longer ago
 * answers 403 `reauthentication_required`. The same `authenticate` as the HTTP API.
 *
 * ```ts
 * const app = new Hono<TesseraEnv>();
 * app.use("/api/*", tesseraGuard({ tessera }));
 * app.get("/api/me", (c) => c.json(c.get("tessera").user));
 * ```
 */
import type { MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Tessera } from "../../engine/tessera.js";
import { type AuthContext, type AuthOptions, authenticate } from "../http/auth.js";
import { clientError, errorResponse } from "../http/errors.js";

/** The Hono environment the guard provides: `c.get("tessera")`. */
export interface TesseraEnv {
  Variables: { tessera: AuthContext };
}

export interface HonoGuardOptions extends AuthOptions {
  readonly tessera: Tessera;
  /** Told about failures that are not the client's (the client gets `internal_error`). */
  readonly onError?: (error: unknown) => void;
}

export function tesseraGuard(options: HonoGuardOptions): MiddlewareHandler<TesseraEnv> {
  const { tessera, onError, ...auth } = options;
  return async (c, next) => {
    let context: AuthContext;
    try {
      const { token: _token, ...rest } = await authenticate(
        tessera,
        { method: c.req.method, header: (name) => c.req.header(name), origin: new URL(c.req.url).origin },
        auth,
      );
      context = rest;
    } catch (error) {
      const visible = clientError(error);
      if (visible.code === "internal_error") onError?.(error);
      const { status, headers, body } = errorResponse(visible);
      return c.json(body, status as ContentfulStatusCode, headers);
    }
    c.set("tessera", context);
    await next();
  };
}
