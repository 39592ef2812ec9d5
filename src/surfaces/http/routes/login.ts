/**
 * `POST /auth/login` and `POST /auth/login/:provider`: a provider's input, as JSON or in a
 * format the provider declared (`AuthProvider.contentTypes`: form-urlencoded, or one a
 * plugin parses, such as XML), goes to `tessera.loginWith`.
 *
 * These routes live in their own Fastify context so that only they read non-JSON bodies:
 * a catch-all content-type parser here keeps such a body as text (within the body limit)
 * and the provider decides whether it accepts it; every other route stays JSON-only.
 *
 * Cross-site: a JSON body cannot come from another site's page without a CORS preflight,
 * but a form post can, and would log the visitor in as whoever the page chose (login
 * CSRF). So a non-JSON body must pass the same browser-signal rule as cookie-authenticated
 * changes (`checkSameSite`), unless its provider carries its own proof (`allowCrossSite`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isTesseraError } from "../../../errors.js";
import { checkSameSite } from "../auth.js";
import type { HttpContext } from "../context.js";
import { fastifyAuthRequest } from "../context.js";

/** A body in a format other than JSON, kept as text until its provider is known. */
class RawBody {
  constructor(
    readonly contentType: string,
    readonly text: string,
  ) {}
}

export async function loginRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { tessera } = ctx;

  app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    done(null, new RawBody(request.headers["content-type"] ?? "", text));
  });

  const login = async (provider: string, request: FastifyRequest, reply: FastifyReply) => {
    try {
      let body = request.body;
      if (body instanceof RawBody) {
        if (tessera.provider(provider)?.allowCrossSite !== true) {
          checkSameSite(fastifyAuthRequest(request), { trustedOrigins: ctx.linkOrigins });
        }
        body = tessera.parseProviderBody(provider, body.contentType, body.text);
      }
      const pair = await tessera.loginWith(provider, body, ctx.metadata(request));
      return reply.send(pair);
    } catch (error) {
      ctx.metrics?.loginFailed(isTesseraError(error) ? error.code : "internal_error");
      throw error;
    }
  };
  app.post("/auth/login", (request, reply) => login("password", request, reply));
  app.post<{ Params: { provider: string } }>("/auth/login/:provider", (request, reply) =>
    login(request.params.provider, request, reply),
  );
}
