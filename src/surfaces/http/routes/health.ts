/**
 * `GET /healthz` (200 `{status: "ok"}`, or 503 `{status: "unavailable"}` when the store does
 * not answer — Tessera fails closed, so a load balancer should stop sending traffic) and
 * `GET /metrics` (Prometheus text format) when metrics are on.
 */
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "../context.js";

export async function healthRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get("/healthz", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    if (await ctx.tessera.healthy()) return { status: "ok" };
    return reply.code(503).send({ status: "unavailable" });
  });

  const metrics = ctx.metrics;
  if (metrics === null) return;
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
