/**
 * The pages a person uses (contract "Browser pages"): `GET /account/sessions`, the sign-in
 * form `GET /account/sign-in` and its `POST /account/sign-in[/:provider]`, and their
 * stylesheet and script under `/account/assets/`. Every page is server-rendered HTML with
 * the strict page CSP (`account/html.ts`); the only script is ours, from this origin.
 *
 * Sign-in answers a form post with `303` back to its `return` path (a path on this server,
 * `/account/sessions` when absent or unsafe) and a JSON post (the SDK's cookie mode) with
 * `{session, user}`; both set the HttpOnly session cookie and carry no token in the body.
 * A sign-in post is a login CSRF target, so it passes the same browser-signal rule as a
 * cookie-authenticated change (`checkSameSite`): another site's page cannot sign a visitor
 * in as someone else.
 *
 * `GET /account/sessions/activity?before=<cursor>` answers the page's script with the next
 * page of its "Recent activity" list, as HTML rendered by the same code as the page.
 *
 * A signed-out browser asking for the sessions page is sent to sign in (303 with the return
 * path); a client that does not ask for HTML gets the contract's JSON 401.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { JsonValue } from "../../../engine/types.js";
import { isTesseraError } from "../../../errors.js";
import { activityFragment, loadActivity } from "../account/activity.js";
import { errorPage } from "../account/error-page.js";
import {
  SESSIONS_SCRIPT_PATH,
  STYLESHEET_PATH,
  safeReturnPath,
  sendPage,
  wantsHtml,
} from "../account/html.js";
import { sessionsPage } from "../account/sessions-page.js";
import { SESSIONS_JS } from "../account/sessions-script.js";
import { signInPage } from "../account/sign-in-page.js";
import { ACCOUNT_CSS } from "../account/stylesheet.js";
import { checkSameSite } from "../auth.js";
import type { HttpContext } from "../context.js";
import { fastifyAuthRequest } from "../context.js";
import { clientError, errorResponse } from "../errors.js";
import { parseBody } from "../validation.js";
import { eventsQuery } from "./events.js";

const SESSIONS_PATH = "/account/sessions";
const SIGN_IN_PATH = "/account/sign-in";
const ACTIVITY_PATH = "/account/sessions/activity";
/** `?before=` of the activity fragment: the events route's cursor. */
export const activityQuery = eventsQuery.pick({ before: true }).strict();
/** Codes that mean "no usable session": the browser is sent to sign in. */
const SIGNED_OUT: ReadonlySet<string> = new Set(["token_invalid", "token_expired", "token_revoked"]);

/** A form post's fields (the first value of each name). */
class FormBody {
  constructor(readonly fields: Readonly<Record<string, string>>) {}
}

export async function accountRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { tessera } = ctx;

  // Scoped to this plugin: only the sign-in form posts urlencoded here.
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      const fields: Record<string, string> = {};
      for (const [name, value] of new URLSearchParams(String(body))) fields[name] ??= value;
      done(null, new FormBody(fields));
    },
  );

  const asset = (path: string, type: string, text: string) =>
    app.get(path, async (_request, reply) =>
      reply
        .headers({
          "content-type": type,
          "cache-control": "public, max-age=300",
          "x-content-type-options": "nosniff",
        })
        .send(text),
    );
  asset(STYLESHEET_PATH, "text/css; charset=utf-8", ACCOUNT_CSS);
  asset(SESSIONS_SCRIPT_PATH, "text/javascript; charset=utf-8", SESSIONS_JS);

  app.get("/account", async (_request, reply) => reply.code(303).header("location", SESSIONS_PATH).send());

  app.get(SESSIONS_PATH, async (request, reply) => {
    let auth: Awaited<ReturnType<HttpContext["authenticate"]>>;
    try {
      auth = await ctx.authenticate(request);
    } catch (error) {
      if (isTesseraError(error) && SIGNED_OUT.has(error.code) && wantsHtml(request.headers.accept)) {
        return reply.code(303).header("location", signInUrl(SESSIONS_PATH)).send();
      }
      throw error;
    }
    const [sessions, activity] = await Promise.all([
      tessera.listSessions(auth.user.id),
      loadActivity(tessera, auth.user.id),
    ]);
    const html = sessionsPage({
      user: auth.user,
      sessions,
      currentSessionId: auth.session.id,
      activity,
      now: tessera.clock(),
    });
    return sendPage(reply, 200, html);
  });

  // The sessions page's "Show more activity" and its refresh after a revocation.
  app.get(ACTIVITY_PATH, async (request, reply) => {
    const auth = await ctx.authenticate(request);
    const { before } = parseBody(activityQuery, request.query ?? {}, "activity query");
    const page = await loadActivity(tessera, auth.user.id, before);
    const html = activityFragment({ ...page, currentSessionId: auth.session.id, now: tessera.clock() });
    return sendPage(reply, 200, html);
  });

  app.get<{ Querystring: { return?: string } }>(SIGN_IN_PATH, async (request, reply) => {
    const returnTo = safeReturnPath(request.query.return) ?? SESSIONS_PATH;
    return sendPage(reply, 200, signInPage({ returnTo }));
  });

  const signIn = async (provider: string, request: FastifyRequest, reply: FastifyReply) => {
    const form = request.body instanceof FormBody ? request.body.fields : null;
    const returnTo = safeReturnPath(form?.return) ?? SESSIONS_PATH;
    try {
      checkSameSite(fastifyAuthRequest(request), { trustedOrigins: ctx.linkOrigins });
      const input = form === null ? request.body : formLogin(provider, form);
      const pair = await tessera.loginWith(provider, input, ctx.metadata(request), { tokenType: "session" });
      ctx.setSessionCookie(request, reply, pair.accessToken, new Date(pair.refreshExpiration));
      if (form !== null) return reply.code(303).header("location", returnTo).send();
      return reply.send({ session: await tessera.getSession(pair.sessionId), user: pair.user });
    } catch (error) {
      ctx.metrics?.loginFailed(isTesseraError(error) ? error.code : "internal_error");
      const visible = clientError(error);
      // JSON callers, and failures that are not the visitor's to fix, take the usual path.
      if (form === null || visible.code === "internal_error") throw error;
      const { status, headers } = errorResponse(visible);
      const page =
        visible.code === "unavailable" || visible.code === "not_found"
          ? errorPage({ status, code: visible.code, message: visible.message })
          : signInPage({
              returnTo,
              ...(form.username === undefined ? {} : { username: form.username }),
              error: { code: visible.code, message: visible.message },
            });
      return sendPage(reply.headers(headers), status, page);
    }
  };
  app.post(SIGN_IN_PATH, (request, reply) => signIn("password", request, reply));
  app.post<{ Params: { provider: string } }>(`${SIGN_IN_PATH}/:provider`, (request, reply) =>
    signIn(request.params.provider, request, reply),
  );
}

/** The sign-in page, returning to `path` afterwards. */
function signInUrl(path: string): string {
  return `${SIGN_IN_PATH}?return=${encodeURIComponent(path)}`;
}

/**
 * A form's fields as the provider's input: for the password provider the known fields (an
 * empty device name is no name); for another provider every field but `return`.
 */
function formLogin(provider: string, form: Readonly<Record<string, string>>): JsonValue {
  if (provider !== "password") {
    const { return: _return, ...fields } = form;
    return fields;
  }
  const deviceName = form.deviceName?.trim() ?? "";
  return {
    username: form.username ?? "",
    password: form.password ?? "",
    ...(deviceName === "" ? {} : { deviceName }),
  };
}
