/**
 * Mounts the routes that plugins declared (`tessera.use(plugin)`; `src/engine/plugins.ts`)
 * as Fastify routes. A plugin route is framework-neutral: this file turns a Fastify request
 * into its plain `PluginRequest`, authenticates `auth: true` routes first (Bearer or cookie,
 * CSRF-checked like every other route), and writes its plain `PluginResponse`. A thrown
 * `TesseraError` reaches the app's error handler like any route's; anything else is a
 * logged `internal_error`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { PluginRequest, PluginResponse, PluginRoute } from "../../../engine/plugins.js";
import { TesseraError } from "../../../errors.js";
import type { HttpContext } from "../context.js";

export async function pluginRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  for (const { plugin, route } of ctx.tessera.takePluginRoutes()) {
    app.route({
      method: route.method,
      url: route.path,
      config: { plugin },
      handler: async (request, reply) => {
        const response = await route.handler(await pluginRequest(ctx, route, request), ctx.tessera);
        return writeResponse(plugin, reply, response);
      },
    });
  }
}

async function pluginRequest(
  ctx: HttpContext,
  route: PluginRoute,
  request: FastifyRequest,
): Promise<PluginRequest> {
  const auth = route.auth === true ? await ctx.authenticate(request) : null;
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return {
    params: (request.params ?? {}) as Record<string, string>,
    query: (request.query ?? {}) as Record<string, string | string[]>,
    body: request.body,
    headers,
    metadata: ctx.metadata(request),
    session: auth?.session ?? null,
    user: auth?.user ?? null,
  };
}

function writeResponse(plugin: string, reply: FastifyReply, response: PluginResponse): FastifyReply {
  const status = response.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new TesseraError("internal_error", "A plugin route answered with an invalid status.", {
      cause: new TypeError(`Plugin "${plugin}" answered status ${status}`),
    });
  }
  reply.code(status);
  if (response.headers !== undefined) reply.headers(response.headers);
  const body = response.body;
  if (body === undefined) return reply.send();
  if (typeof body === "string" && reply.hasHeader("content-type")) return reply.send(body);
  // Serialised here so a string body is JSON too, not sent as plain text.
  return reply.type("application/json; charset=utf-8").send(JSON.stringify(body));
}
