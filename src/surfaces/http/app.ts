/**
 * `buildHttpApp`: the contract's HTTP API as a Fastify instance, not yet listening (the
 * caller listens, or uses `inject` in tests). One route file per group under `routes/`,
 * each a plugin receiving the shared `HttpContext`; adding a group is one `register` line.
 *
 * Everything a client can get wrong ends as a contract error body: bodies are JSON only
 * (an empty body reads as absent, whatever its Content-Type: no body is no form post),
 * capped at `bodyLimitBytes`, and Fastify's and Node's own failures — routing, parsing,
 * oversized or slow headers — are mapped by `errors.ts`. An oversized body is read and
 * discarded (up to a bound) before the 413, so that a client still sending can read it.
 * Request logs are one line per request with the route *pattern*, never the URL (a link
 * URL carries a token), never headers or bodies (`request-log.ts`).
 *
 * Responses are `Cache-Control: no-store` (and `Pragma: no-cache`) unless a route says
 * otherwise (the JWKS does): nearly every answer here carries a token or session data
 * (RFC 6749 §5.1), and one default is harder to forget than a header per route.
 *
 * Slow clients are cut: headers must arrive within `headersTimeoutMs`, the whole request
 * within `requestTimeoutMs`, and an idle keep-alive connection closes after
 * `keepAliveTimeoutMs`.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from "fastify";
import type { Tessera } from "../../engine/tessera.js";
import { TesseraError } from "../../errors.js";
import { errorPage } from "./account/error-page.js";
import { isPageRoute, sendPage, wantsHtml } from "./account/html.js";
import { createHttpContext } from "./context.js";
import { installCors } from "./cors.js";
import { discardBody } from "./discard-body.js";
import { errorResponse, httpErrorResponse, parserErrorResponse } from "./errors.js";
import { TesseraMetrics } from "./metrics.js";
import type { RegisteredRoute } from "./openapi.js";
import { RequestLogController, requestRecorder } from "./request-log.js";
import { accountRoutes } from "./routes/account.js";
import { authRoutes } from "./routes/auth.js";
import { credentialRoutes } from "./routes/credentials.js";
import { eventRoutes } from "./routes/events.js";
import { healthRoutes } from "./routes/health.js";
import { linkRoutes } from "./routes/links.js";
import { loginRoutes } from "./routes/login.js";
import { openApiRoutes } from "./routes/openapi.js";
import { pluginRoutes } from "./routes/plugins.js";
import { sessionRoutes } from "./routes/sessions.js";
import { wellKnownRoutes } from "./routes/well-known.js";

/** Room for the JSON around a full-size session `data` value. */
const BODY_OVERHEAD_BYTES = 64 * 1024;
/** An oversized body is read (and dropped) up to this many times the limit before the 413. */
const DISCARD_FACTOR = 8;
/** The default caching headers of every response (RFC 6749 §5.1; `Pragma` for HTTP/1.0 caches). */
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;
/** How often Node looks for connections past their header or request timeout. */
const MAX_TIMEOUT_CHECK_MS = 1000;

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
  /**
   * Origins whose pages may call the API with credentials (CORS, see `cors.ts`); Bearer
   * only for changes: they are not CSRF-trusted. @default []
   */
  readonly corsOrigins?: readonly string[];
  /** Trust `X-Forwarded-*` from these proxies (Fastify's `trustProxy`). @default false */
  readonly trustProxy?: FastifyServerOptions["trustProxy"];
  /**
   * The origin users reach the server at (`https://auth.example.com`); link URLs are built
   * from it. Without it: from a trusted proxy's `X-Forwarded-Host`/`-Proto` when
   * `trustProxy` is set, else from the address the connection was accepted on — never
   * from the client's own `Host` header. @default null
   */
  readonly publicUrl?: string | null;
  /** All request headers must arrive within this. @default 10000 */
  readonly headersTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. @default 5000 */
  readonly keepAliveTimeoutMs?: number;
}

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const { tessera } = options;
  const bodyLimit = options.bodyLimitBytes ?? tessera.options.maxDataBytes + BODY_OVERHEAD_BYTES;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(headersTimeout, options.requestTimeoutMs ?? 30_000);
  const metrics = options.metrics === false ? null : (options.metrics ?? new TesseraMetrics());
  // Latency metrics and the request line, once per finished response (request-log.ts).
  const recordRequest = requestRecorder(metrics, options.logger);
  const app: FastifyInstance = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    // Fastify's own request lines would log the URL; ours log the route pattern.
    logController: new RequestLogController(recordRequest),
    // No child logger per request: lines that need the request id carry it themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit,
    trustProxy: options.trustProxy ?? false,
    // Fastify's own 503 while closing has its own body; ours (the onRequest hook below)
    // answers the contract's `unavailable`.
    return503OnClosing: false,
    requestTimeout,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
    http: {
      headersTimeout,
      requestTimeout,
      // Node checks these timeouts only this often (30 s by default, which would let a
      // 10 s header timeout stretch to 40 s).
      connectionsCheckingInterval: Math.max(10, Math.min(MAX_TIMEOUT_CHECK_MS, headersTimeout / 4)),
    },
    // Failures before routing (a malformed URL, an over-long path parameter): the
    // contract's body, never Fastify's, which repeats the path.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const { response } = httpErrorResponse(error);
      // No route, so no onSend hook: the caching headers are set here.
      reply.headers({ ...NO_STORE, ...response.headers });
      reply.code(response.status).send(response.body);
    },
    // Failures in Node's parser, before there is a request at all (headers too large or
    // too slow): written on the socket, which is then closed.
    clientErrorHandler: (error: Error & { code?: string }, socket) => {
      if (error.code === "ECONNRESET" || socket.destroyed) return;
      if (socket.writable) socket.write(parserErrorResponse(error.code));
      socket.destroy(error);
    },
  }) as unknown as FastifyInstance;

  if (metrics !== null) {
    const stop = metrics.observe(tessera);
    app.addHook("onClose", async () => stop());
  }
  const ctx = createHttpContext({
    tessera,
    metrics,
    linkOrigins: options.linkOrigins ?? [],
    cookieSecure: options.cookieSecure ?? "auto",
    publicUrl: options.publicUrl ?? null,
    trustProxy: (options.trustProxy ?? false) !== false,
  });

  installCors(app, options.corsOrigins ?? []);

  // Set by the preClose hook below: Fastify is closing this app.
  let closing = false;

  // A request that says it has no body has none to parse, whatever Content-Type a client
  // library adds (Python's urllib sends a form type on an empty POST): not a form post.
  app.addHook("onRequest", (request, reply, done) => {
    if (closing) {
      // A request on a connection still open once closing began (pipelined, or kept
      // alive): not started, so the client may send it to another node.
      const { status, body } = errorResponse(
        new TesseraError("unavailable", "This server is shutting down; try again shortly."),
      );
      reply
        .code(status)
        .headers({ ...NO_STORE, connection: "close" })
        .send(body);
      return;
    }
    const { headers } = request;
    if (
      headers["content-type"] !== undefined &&
      headers["transfer-encoding"] === undefined &&
      (headers["content-length"] === undefined || headers["content-length"] === "0")
    ) {
      delete headers["content-type"];
    }
    done();
  });
  app.removeAllContentTypeParsers();
  // Any other type: an empty (chunked) body is no body; anything in it is refused.
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    done(new TesseraError("invalid_request", "Unsupported Content-Type; send application/json."), undefined);
  });
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

  app.setErrorHandler(async (error, request, reply) => {
    const { visible, response } = httpErrorResponse(error);
    if (visible.code === "internal_error")
      request.log.error({ reqId: request.id, err: error }, "request failed");
    else if (visible.code === "unavailable")
      request.log.warn({ reqId: request.id, err: visible.cause }, "store unavailable");
    if (visible.code === "payload_too_large") {
      // Answering while the client is still sending makes it fail with EPIPE before it
      // reads the 413 (Node's fetch does): read the rest first, up to a bound, then close.
      await discardBody(request.raw, bodyLimit * DISCARD_FACTOR);
      reply.header("connection", "close");
    }
    reply.headers(response.headers);
    // A person's browser on a page route reads a page, with the same status and code.
    if (wantsHtml(request.headers.accept) && isPageRoute(request.url)) {
      const { code, message } = response.body.error;
      return sendPage(reply, response.status, errorPage({ status: response.status, code, message }));
    }
    return reply.code(response.status).send(response.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = errorResponse(new TesseraError("not_found", "No such route."));
    // A browser following a link to a page that is not here (`redirectTo: "/checkout"`).
    if ((request.method === "GET" || request.method === "HEAD") && wantsHtml(request.headers.accept)) {
      return sendPage(reply, status, errorPage({ status, code: "not_found", message: "No such page." }));
    }
    return reply.code(status).send(body);
  });
  // Graceful close: Node keeps a keep-alive connection open after its in-flight request
  // ends, which would stall `close()`; answering with `Connection: close` ends it instead.
  app.addHook("preClose", async () => {
    closing = true;
  });
  // Callback-style hooks: an async hook costs a promise and a microtask turn per request.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    if (!reply.hasHeader("cache-control")) {
      reply.header("cache-control", NO_STORE["cache-control"]);
      reply.header("pragma", NO_STORE.pragma);
    }
    done(null, payload);
  });
  // Without a logger, Fastify follows a response to its end (and then calls the log
  // controller's requestCompleted) only for routes with an onResponse hook.
  if (options.logger === undefined && metrics !== null) {
    app.addHook("onResponse", (_request, _reply, done) => done());
  }

  // Every route, for the OpenAPI document; plugin routes are marked by their `config.plugin`.
  const registered: RegisteredRoute[] = [];
  const fromPlugins = new Set<string>();
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      registered.push({ method, url: route.url });
      if ((route.config as { plugin?: string } | undefined)?.plugin !== undefined)
        fromPlugins.add(`${method} ${route.url}`);
    }
  });

  // Route groups, one file each (plugins load when the app is readied, listened or injected).
  app.register(authRoutes, ctx);
  app.register(credentialRoutes, ctx);
  app.register(loginRoutes, ctx);
  app.register(sessionRoutes, ctx);
  app.register(eventRoutes, ctx);
  app.register(wellKnownRoutes, ctx);
  app.register(healthRoutes, ctx);
  app.register(linkRoutes, ctx);
  app.register(pluginRoutes, ctx);
  app.register(accountRoutes, ctx);
  app.register(openApiRoutes, { routes: registered, pluginRoutes: fromPlugins });
  return app;
}

/** Drops prototype-pollution keys' power: a body naming `__proto__` is refused outright. */
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === "__proto__")
    throw new TesseraError("invalid_request", "The body may not contain a __proto__ key.");
  return value;
}
