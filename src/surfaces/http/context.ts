/**
 * What every route plugin of the HTTP surface receives as its options: the engine and the
 * few request helpers the routes share (authenticate, request metadata, cookie writing),
 * so that a route file stays "parse, one engine call, write". A new route group is one
 * file exporting `(app, ctx: HttpContext) => Promise<void>`, registered in `app.ts`.
 */
import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FreshnessOptions } from "../../engine/freshness.js";
import type { Tessera } from "../../engine/tessera.js";
import type { RequestMetadata } from "../../engine/types.js";
import { isTesseraError } from "../../errors.js";
import { type AuthContext, type AuthRequest, authenticate } from "./auth.js";
import { clearedSessionCookie, sessionCookie } from "./cookies.js";
import type { TesseraMetrics } from "./metrics.js";

export interface HttpContext {
  readonly tessera: Tessera;
  readonly metrics: TesseraMetrics | null;
  /** Origins (besides this server's) that links may redirect to and that pass the CSRF Origin check. */
  readonly linkOrigins: readonly string[];
  /**
   * Validates the request's Bearer token or cookie (CSRF-checked); throws a `TesseraError`.
   * `freshness.maxAge` demands a recent proof of identity (`reauthentication_required`).
   */
  authenticate(
    request: FastifyRequest,
    freshness?: FreshnessOptions,
  ): Promise<AuthContext & { readonly token: string }>;
  /** User agent and client IP, recorded on new sessions. */
  metadata(request: FastifyRequest): RequestMetadata;
  /** Sets the `tessera_session` cookie to a session token. */
  setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string, expires: Date): void;
  /** Removes the `tessera_session` cookie. */
  clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void;
  /**
   * `scheme://host[:port]` to build absolute URLs (links) on: the configured public URL;
   * else, behind a trusted proxy, what it forwards; else the address the connection was
   * accepted on. Never the client's own `Host` header (`Host: evil.example` must not put a
   * link on evil.example).
   */
  publicOrigin(request: FastifyRequest): string;
}

export interface HttpContextOptions {
  readonly tessera: Tessera;
  readonly metrics: TesseraMetrics | null;
  readonly linkOrigins: readonly string[];
  readonly cookieSecure: boolean | "auto";
  /** The configured public origin, or null. */
  readonly publicUrl: string | null;
  /** Whether forwarded headers come from a trusted proxy (Fastify then reads them for `host`). */
  readonly trustProxy: boolean;
}

/**
 * A Fastify request seen as the framework-free `AuthRequest`. A class rather than an object
 * literal with a getter: it is made on every authenticated request, and instances of one
 * class share their shape and methods.
 */
class FastifyAuthRequest implements AuthRequest {
  constructor(private readonly request: FastifyRequest) {}

  get method(): string {
    return this.request.method;
  }

  header(name: string): string | undefined {
    const value = this.request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  }

  get clientAddress(): string {
    return clientAddressOf(this.request);
  }

  /** Only the CSRF check of a cookie-authenticated change reads it: not computed per request. */
  get origin(): string {
    return `${this.request.protocol}://${this.request.host}`;
  }
}

/**
 * The client's address. Behind a trusted proxy Fastify takes it from `X-Forwarded-For` as
 * sent, whatever it holds ("<script>", a 5 kB run of digits) when every hop is trusted
 * (`trustProxy: true`); what is no IP address is not the client's address, so the
 * connection's peer — the nearest address known to be true — stands in for it.
 */
export function clientAddressOf(request: FastifyRequest): string {
  const { ip } = request;
  if (isIP(ip) !== 0) return ip;
  return request.socket.remoteAddress ?? "";
}

/** Adapts a Fastify request to the framework-free `AuthRequest`. */
export function fastifyAuthRequest(request: FastifyRequest): AuthRequest {
  return new FastifyAuthRequest(request);
}

export function createHttpContext(options: HttpContextOptions): HttpContext {
  const { tessera, metrics, linkOrigins, cookieSecure, trustProxy } = options;
  const publicUrl = options.publicUrl === null ? null : new URL(options.publicUrl).origin;
  const secure = (request: FastifyRequest): boolean =>
    cookieSecure === "auto" ? request.protocol === "https" : cookieSecure;
  return {
    tessera,
    metrics,
    linkOrigins,
    async authenticate(request, freshness = {}) {
      try {
        const result = await authenticate(tessera, fastifyAuthRequest(request), {
          trustedOrigins: linkOrigins,
          ...freshness,
        });
        metrics?.validated("ok");
        return result;
      } catch (error) {
        metrics?.validated(isTesseraError(error) ? error.code : "internal_error");
        throw error;
      }
    },
    metadata(request) {
      return {
        userAgent: request.headers["user-agent"] ?? null,
        ipAddress: clientAddressOf(request) || null,
        surface: "http",
      };
    },
    setSessionCookie(request, reply, token, expires) {
      reply.header("set-cookie", sessionCookie(token, { secure: secure(request), expires }));
    },
    clearSessionCookie(request, reply) {
      reply.header("set-cookie", clearedSessionCookie({ secure: secure(request) }));
    },
    publicOrigin(request) {
      if (publicUrl !== null) return publicUrl;
      if (trustProxy) return `${request.protocol}://${request.host}`;
      const { localAddress, localPort } = request.socket;
      const host = localAddress === undefined ? "localhost" : displayAddress(localAddress);
      return `${request.protocol}://${host}${localPort === undefined ? "" : `:${localPort}`}`;
    },
  };
}

/** An accepted-on address as a URL host: IPv4-mapped IPv6 unwrapped, IPv6 bracketed. */
function displayAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  return address.includes(":") ? `[${address}]` : address;
}
