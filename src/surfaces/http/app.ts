/**
 * `buildHttpApp`: the contract's HTTP API as a Fastify instance, not yet listening (the
 * caller listens, or uses `inject` in tests). One route file per group under `routes/`,
 * each a plugin receiving the shared `HttpContext`; adding a group is one `register` line.
 *
 * Everything a client can get wrong ends as a contract error body: bodies are JSON only
 * (an empty body reads as absent), capped at `bodyLimitBytes`, and Fastify's own failures
 * are mapped by `errors.ts`. Request logs are one line per request with the route
 * *pattern*, never the URL (a link URL carries a token), never headers or bodies.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import type { Tessera } from "../../engine/tessera.js";
import { TesseraError } from "../../errors.js";
import { createHttpContext } from "./context.js";
import { clientError, errorResponse } from "./errors.js";
import { TesseraMetrics } from "./metrics.js";
import { authRoutes } from "./routes/auth.js";
import { healthRoutes } from "./routes/health.js";
import { linkRoutes } from "./routes/links.js";
import { pluginRoutes } from "./routes/plugins.js";
import { sessionRoutes } from "./routes/sessions.js";
import { wellKnownRoutes } from "./routes/well-known.js";

/** Room for the JSON around a full-size session `data` value. */
const BODY_OVERHEAD_BYTES = 64 * 1024;

export interface HttpAppOptions {
  readonly tessera: Tessera;
  /**
   * `Secure` on the session cookie: `"auto"` sets it when the request came over HTTPS,
   * directly or (with `trustProxy`) per `X-Forwarded-Proto`. @default "auto"
   */
  readonly cookieSecure?: boolean | "auto";
  /** Largest request body. @default the engine's maxSessionDataBytes + 64 KiB */
  readonly bodyLimitBytes?: number;
  /** Where request and error logs go (pino or compatible). @default no logging */
  readonly logger?: FastifyBaseLogger;
  /** Metrics to record and serve at `/metrics`; `false` turns `/metrics` off. @default a new registry */
  readonly metrics?: TesseraMetrics | false;
  /** Origins besides this server's that links may redirect to and that pass the CSRF Origin check. @default [] */
  readonly linkOrigins?: readonly string[];
  /** Trust `X-Forwarded-*` from these proxies (Fastify's `trustProxy`). @default false */
  readonly trustProxy?: FastifyServerOptions["trustProxy"];
}

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const { tessera } = options;
  const bodyLimit = options.bodyLimitBytes ?? tessera.options.maxDataBytes + BODY_OVERHEAD_BYTES;
  const app: FastifyInstance = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    // Fastify's own request lines would log the URL; ours below logs the route pattern.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    trustProxy: options.trustProxy ?? false,
  }) as unknown as FastifyInstance;

  const metrics = options.metrics === false ? null : (options.metrics ?? new TesseraMetrics());
  if (metrics !== null) {
    const stop = metrics.observe(tessera);
    app.addHook("onClose", async () => stop());
  }
  const ctx = createHttpContext({
    tessera,
    metrics,
    linkOrigins: options.linkOrigins ?? [],
    cookieSecure: options.cookieSecure ?? "auto",
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text, refuseProtoKeys));
    } catch (error) {
      done(
        error instanceof TesseraError
          ? error
          : new TesseraError("invalid_request", "The body is not valid JSON."),
        undefined,
      );
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const visible = clientError(error);
    if (visible.code === "internal_error") request.log.error({ err: error }, "request failed");
    else if (visible.code === "unavailable") request.log.warn({ err: visible.cause }, "store unavailable");
    const { status, headers, body } = errorResponse(visible);
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((_request, reply) => {
    const { status, body } = errorResponse(new TesseraError("not_found", "No such route."));
    return reply.code(status).send(body);
  });
  // Graceful close: Node keeps a keep-alive connection open after its in-flight request
  // ends, which would stall `close()`; answering with `Connection: close` ends it instead.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_request, reply) => {
    if (closing) reply.header("connection", "close");
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "(unmatched)";
    metrics?.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    request.log.info(
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      "request",
    );
  });

  // Route groups, one file each (plugins load when the app is readied, listened or injected).
  app.register(authRoutes, ctx);
  app.register(sessionRoutes, ctx);
  app.register(wellKnownRoutes, ctx);
  app.register(healthRoutes, ctx);
  app.register(linkRoutes, ctx);
  app.register(pluginRoutes, ctx);
  return app;
}

/** Drops prototype-pollution keys' power: a body naming `__proto__` is refused outright. */
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === "__proto__")
    throw new TesseraError("invalid_request", "The body may not contain a __proto__ key.");
  return value;
}
