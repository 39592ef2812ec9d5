/**
 * An Express guard for applications that embed Tessera: validates the Bearer token or the
 * `tessera_session` cookie (CSRF rule included) through the engine, puts
 * `{session, user, credential, via}` on `req.tessera`, and otherwise answers the contract's
 * error body; with `maxAge` (seconds), a session whose user last proved who they are longer
 * ago answers 403 `reauthentication_required`. The same `authenticate` as the HTTP API, so the rules cannot differ.
 *
 * ```ts
 * app.get("/me", tesseraGuard({ tessera }), (req, res) => res.json(req.tessera?.user));
 * ```
 */
import { isIP } from "node:net";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Tessera } from "../../engine/tessera.js";
import { type AuthContext, type AuthOptions, type AuthRequest, authenticate } from "../http/auth.js";
import { clientError, errorResponse } from "../http/errors.js";

declare global {
  namespace Express {
    interface Request {
      /** Set by `tesseraGuard` once the caller is authenticated. */
      tessera?: AuthContext;
    }
  }
}

export interface ExpressGuardOptions extends AuthOptions {
  readonly tessera: Tessera;
  /** Told about failures that are not the client's (the client gets `internal_error`). */
  readonly onError?: (error: unknown) => void;
}

function authRequest(req: Request): AuthRequest {
  return {
    method: req.method,
    header: (name) => req.get(name),
    origin: req.get("host") === undefined ? null : `${req.protocol}://${req.get("host")}`,
    // Behind `trust proxy`, `req.ip` is whatever X-Forwarded-For said; a value that is not an
    // address counts as the peer's (as in `tessera serve`), or rotating junk would give every
    // request its own guessing budget.
    clientAddress: req.ip !== undefined && isIP(req.ip) !== 0 ? req.ip : (req.socket.remoteAddress ?? null),
  };
}

export function tesseraGuard(options: ExpressGuardOptions): RequestHandler {
  const { tessera, onError, ...auth } = options;
  return (req: Request, res: Response, next: NextFunction) => {
    authenticate(tessera, authRequest(req), auth).then(
      ({ token: _token, ...context }) => {
        req.tessera = context;
        next();
      },
      (error: unknown) => {
        const visible = clientError(error);
        if (visible.code === "internal_error") onError?.(error);
        const { status, headers, body } = errorResponse(visible);
        res.status(status).set(headers).json(body);
      },
    );
  };
}
