/**
 * Single-use pre-authenticated links (contract `POST /auth/links`, `GET /auth/links/:token`;
 * seed 001). Issuing needs the caller's session; redeeming needs only the link, because
 * whoever opens it may be a different client with no cookies (the seed's "plain GET").
 *
 * Redemption answers, in order of precedence: the issuing provider's own format
 * (`formatLinkResponse`), JSON (`{...tokenPair, session}`) when the client accepts
 * `application/json`, else a redirect to the link's `redirectTo` (default `/account/sessions`, the sessions page) with the
 * `tessera_session` cookie.
 *
 * Mail scanners and link previewers open URLs before people do: `HEAD` and `OPTIONS` never
 * consume a link, and a link issued with `confirm: true` answers GET with a small page whose
 * button POSTs back — only that POST consumes it. Every response here carries
 * `Cache-Control: no-store` (the URL is a credential and the answer holds tokens) and
 * `Referrer-Policy: no-referrer` (the page must not leak its own URL to the next site).
 * Request logs name the route pattern, never the URL (see `app.ts`), so tokens stay out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as z from "zod";
import { MAX_LINK_TTL_SECONDS, type RedeemedLink, redirectShapeProblem } from "../../../engine/links.js";
import type { JsonValue } from "../../../engine/types.js";
import { TesseraError } from "../../../errors.js";
import type { HttpContext } from "../context.js";
import { parseBody } from "../validation.js";
import { confirmationPage } from "./link-confirm-page.js";

export const issueBody = z
  .object({
    // Already JSON: the body parser produced it.
    data: z.unknown().optional(),
    ttlSeconds: z.number().int().min(1).max(MAX_LINK_TTL_SECONDS).optional(),
    redirectTo: z.string().min(1).max(2048).optional(),
    confirm: z.boolean().optional(),
  })
  .strict();

type TokenParams = { Params: { token: string } };

const ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS";
/** Where a link without `redirectTo` lands: a page of ours that a person can read. */
const DEFAULT_LANDING = "/account/sessions";

export async function linkRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { tessera } = ctx;
  const allowedOrigins = new Set(ctx.linkOrigins.map(originOf));

  // Scoped to this plugin: the confirmation page's form posts urlencoded, and its fields
  // are not read — only the POST itself matters.
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: 1024 },
    (_request, _body, done) => done(null, undefined),
  );
  // `Cache-Control: no-store` is the app's default for every response (see `app.ts`).
  app.addHook("onRequest", async (_request, reply) => {
    reply.header("referrer-policy", "no-referrer");
  });

  app.post("/auth/links", async (request, reply) => {
    const { session } = await ctx.authenticate(request);
    const body = parseBody(issueBody, request.body ?? {}, "link request");
    if (body.redirectTo !== undefined) {
      const problem = redirectProblem(body.redirectTo, allowedOrigins);
      if (problem !== null) {
        throw new TesseraError("invalid_request", `Invalid link request: redirectTo ${problem}.`, {
          issues: [{ path: "redirectTo", message: problem }],
        });
      }
    }
    const link = await tessera.issueLink({
      session,
      metadata: ctx.metadata(request),
      ...(body.data === undefined ? {} : { data: body.data as JsonValue }),
      ...(body.ttlSeconds === undefined ? {} : { ttlSeconds: body.ttlSeconds }),
      ...(body.redirectTo === undefined ? {} : { redirectTo: body.redirectTo }),
      ...(body.confirm === undefined ? {} : { confirm: body.confirm }),
    });
    return reply.code(201).send({ url: ctx.publicOrigin(request) + link.path, expiresAt: link.expiresAt });
  });

  // Fastify would answer HEAD by running the GET handler, which consumes; ours only peeks.
  app.get<TokenParams>("/auth/links/:token", { exposeHeadRoute: false }, async (request, reply) => {
    const token = request.params.token;
    const link = await tessera.peekLink(token, ctx.metadata(request));
    if (link.confirm) {
      const formOrigins = link.redirectTo?.startsWith("/") === false ? [originOf(link.redirectTo)] : [];
      const page = confirmationPage({ expiresAt: link.expiresAt, formOrigins });
      return reply.headers(page.headers).type("text/html; charset=utf-8").send(page.html);
    }
    return redeem(request, reply, 302);
  });

  app.head<TokenParams>("/auth/links/:token", async (request, reply) => {
    await tessera.peekLink(request.params.token, ctx.metadata(request));
    return reply.code(200).send();
  });

  app.options("/auth/links/:token", async (_request, reply) =>
    reply.code(204).header("allow", ALLOWED_METHODS).send(),
  );

  // The confirmation page's button, or an API client that prefers POST; 303 turns the
  // browser's next request into a GET of the target.
  app.post<TokenParams>("/auth/links/:token", (request, reply) => redeem(request, reply, 303));

  async function redeem(
    request: FastifyRequest<TokenParams>,
    reply: FastifyReply,
    redirectStatus: 302 | 303,
  ) {
    const redeemed = await tessera.redeemLink(request.params.token, ctx.metadata(request));
    const custom = providerFormat(redeemed);
    if (custom !== undefined) {
      setCookie(request, reply, redeemed);
      return reply.code(200).type(custom.contentType).send(custom.body);
    }
    if (acceptsJson(request)) return reply.code(200).send({ ...redeemed.pair, session: redeemed.session });
    setCookie(request, reply, redeemed);
    // Re-checked at redemption: an origin removed from the allow-list since issuing is no
    // longer a place to send someone.
    const target = redeemed.link.redirectTo;
    const safe =
      target !== null && redirectProblem(target, allowedOrigins) === null ? target : DEFAULT_LANDING;
    return reply.code(redirectStatus).header("location", safe).send();
  }

  function providerFormat(redeemed: RedeemedLink) {
    const name = redeemed.link.provider;
    const format = name === null ? undefined : tessera.provider(name)?.formatLinkResponse;
    return format?.({
      sessionId: redeemed.session.id,
      sessionToken: redeemed.pair.accessToken,
      refreshToken: redeemed.pair.refreshToken,
      user: redeemed.pair.user,
      data: redeemed.session.data,
    });
  }

  function setCookie(request: FastifyRequest, reply: FastifyReply, redeemed: RedeemedLink): void {
    ctx.setSessionCookie(
      request,
      reply,
      redeemed.pair.accessToken,
      new Date(redeemed.pair.refreshExpiration),
    );
  }
}

/**
 * Why `target` may not be redirected to, or null: a path on this server, or an absolute
 * URL on a configured allowed origin (no open redirect). The request's own Host is not
 * trusted for this: a client chooses it.
 */
export function redirectProblem(target: string, allowed: ReadonlySet<string>): string | null {
  const shape = redirectShapeProblem(target);
  if (shape !== null) return shape;
  if (target.startsWith("/")) return null;
  return allowed.has(originOf(target)) ? null : "must be a path on this server or a URL on an allowed origin";
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "null";
  }
}

function acceptsJson(request: FastifyRequest): boolean {
  return /\bapplication\/json\b/i.test(request.headers.accept ?? "");
}
