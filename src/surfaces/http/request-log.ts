/**
 * What the HTTP app records once a response is finished: its latency in the metrics, and
 * one log line with the route *pattern* (never the URL: a link URL carries a token), the
 * method, status, latency and request id — never headers or bodies.
 *
 * Both are done from Fastify's `LogController.requestCompleted`, which Fastify calls for
 * every finished response once a logger is set, rather than from an `onResponse` hook (a
 * hook runner per request). Without a logger Fastify calls it only for routes with an
 * `onResponse` hook, so the app then adds an empty one when it keeps metrics.
 *
 * A logger may carry a `REQUEST_LINE` writer (the server's `createLogger` sets one): it
 * writes the same JSON line as `logger.info({reqId, method, route, status, ms}, "request")`
 * without pino's generic serialisation of an object, which was most of the line's cost.
 */
import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from "fastify";
import type { TesseraMetrics } from "./metrics.js";

/** The property of a logger holding its `RequestLineWriter`. */
export const REQUEST_LINE = Symbol.for("tessera.requestLine");

/** Writes one request line at `info`, if the logger's level lets it through. */
export type RequestLineWriter = (
  reqId: string,
  method: string,
  route: string,
  status: number,
  ms: number,
) => void;

/** The route label of a request that matched no route (404s). */
const UNMATCHED = "(unmatched)";

/** Records a finished response: the metrics, then the log line when there is a logger. */
export function requestRecorder(
  metrics: TesseraMetrics | null,
  logger: FastifyBaseLogger | undefined,
): (request: FastifyRequest, reply: FastifyReply) => void {
  const line = logger === undefined ? undefined : lineWriterOf(logger);
  return (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED;
    const ms = reply.elapsedTime;
    const status = reply.statusCode;
    metrics?.request(request.method, route, status, ms / 1000);
    line?.(request.id, request.method, route, status, Math.round(ms * 10) / 10);
  };
}

/** The logger's own line writer, or one through its `info` (any pino-compatible logger). */
function lineWriterOf(logger: FastifyBaseLogger): RequestLineWriter {
  // Its own: a child logger inherits the property but has bindings of its own.
  const own = Object.hasOwn(logger, REQUEST_LINE)
    ? (logger as unknown as { [REQUEST_LINE]: RequestLineWriter })[REQUEST_LINE]
    : undefined;
  if (own !== undefined) return own;
  return (reqId, method, route, status, ms) => logger.info({ reqId, method, route, status, ms }, "request");
}

/**
 * Fastify's log controller with its own request lines off (they would log the URL), and
 * `record` called for each finished response instead.
 */
export class RequestLogController extends LogController {
  readonly #record: (request: FastifyRequest, reply: FastifyReply) => void;

  constructor(record: (request: FastifyRequest, reply: FastifyReply) => void) {
    super({ disableRequestLogging: true });
    this.#record = record;
  }

  override requestCompleted(
    _error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    this.#record(request, reply);
  }
}
