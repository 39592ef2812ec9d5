/**
 * `GET /livez` (liveness: 200 `{status: "ok"}` while the process answers), `GET /healthz`
 * (readiness: 200 `{status: "ok"}` when the store serves a read and a write and its event
 * feed is current, else 503 `{status: "unavailable"}` — Tessera fails closed, so a load
 * balancer should stop sending traffic) and `GET /metrics` (Prometheus text format) when
 * metrics are on.
 *
 * The 503 body also carries the contract's error object (`{"error": {"code": "unavailable",
 * …}}`, as every other 503 does): "Errors always look like" that, and a client checking
 * only `status` is unaffected.
 */
import type { FastifyInstance } from "fastify";
import { TesseraError } from "../../../errors.js";
import type { HttpContext } from "../context.js";
import { errorResponse } from "../errors.js";

export async function healthRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Liveness: the process is up and answering; says nothing of the store (restart on this).
  app.get("/livez", async () => ({ status: "ok" }));

  // Readiness: the store can serve reads and writes (route traffic on this).
  app.get("/healthz", async (_request, reply) => {
    if (await ctx.tessera.healthy()) return { status: "ok" };
    const { status, body } = errorResponse(
      new TesseraError("unavailable", "The session store is unavailable; try again shortly."),
    );
    return reply.code(status).send({ status: "unavailable", ...body });
  });

  const metrics = ctx.metrics;
  if (metrics === null) return;
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
