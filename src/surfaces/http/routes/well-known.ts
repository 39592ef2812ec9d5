/**
 * `GET /.well-known/jwks.json`: the public keys that verify access JWTs, for services that
 * check tokens themselves. Retired keys stay listed until their last token has expired.
 */
import type { FastifyInstance } from "fastify";
import type { HttpContext } from "../context.js";

export async function wellKnownRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    // Short caching: verifiers refetch soon after a rotation adds a key.
    reply.header("cache-control", "public, max-age=60");
    return ctx.tessera.jwks();
  });
}
