/**
 * `GET /openapi.json` and the table that documents each route of the app: its summary, how
 * it authenticates, the zod schema it parses its body with and its answers. A route added
 * without an entry here shows up in the document as "undocumented", and the OpenAPI test
 * fails until it has one.
 */
import type { FastifyInstance } from "fastify";
import * as z from "zod";
import { passwordInput } from "../../../engine/providers.js";
import { type OperationTable, openApiDocument, type RegisteredRoute } from "../openapi.js";
import { activityQuery } from "./account.js";
import { logoutAllBody, refreshBody, registerBody, upgradeBody } from "./auth.js";
import { passwordBody, passwordProof, providerProof } from "./credentials.js";
import { eventsQuery } from "./events.js";
import { issueBody } from "./links.js";

const VERSION = "0.1.0";

/** A session `data` value: any JSON. */
const sessionData = z.json();

export const OPERATIONS: OperationTable = {
  "POST /auth/register": {
    summary: "Create a user (403 registration_closed when registration is closed)",
    tag: "auth",
    auth: "none",
    body: registerBody,
    success: { status: 201, content: "json", schema: "UserAnswer" },
    errors: ["invalid_request", "username_taken", "registration_closed", "rate_limited", "unavailable"],
  },
  "POST /auth/login": {
    summary: "Log in with a username and password; answers a token pair (and sets the session cookie)",
    tag: "auth",
    auth: "none",
    body: passwordInput,
    success: { status: 200, content: "json", schema: "TokenPair" },
    errors: ["invalid_request", "invalid_credentials", "rate_limited", "unavailable"],
  },
  "POST /auth/login/:provider": {
    summary: "Log in with a provider (password, or one a plugin registered); the body is the provider's",
    tag: "auth",
    auth: "none",
    success: { status: 200, content: "json", schema: "TokenPair" },
    errors: ["invalid_request", "invalid_credentials", "not_found", "rate_limited", "unavailable"],
  },
  "POST /auth/upgrade": {
    summary: "Turn an access JWT into an opaque session token; the JWT is refused from then on",
    tag: "auth",
    auth: "session",
    body: upgradeBody,
    success: { status: 200, content: "json", schema: "TokenPair" },
    errors: ["token_invalid", "token_expired", "token_revoked", "unavailable"],
  },
  "POST /auth/refresh": {
    summary: "Spend a refresh token for a new pair (a reuse outside the grace window ends the session)",
    tag: "auth",
    auth: "none",
    body: refreshBody,
    success: { status: 200, content: "json", schema: "TokenPair" },
    errors: [
      "invalid_request",
      "token_invalid",
      "token_expired",
      "token_revoked",
      "refresh_token_reused",
      "unavailable",
    ],
  },
  "POST /auth/logout": {
    summary: "End this session: every token of it is refused after",
    tag: "auth",
    auth: "session",
    success: { status: 204, content: "empty" },
    errors: ["token_invalid", "token_expired", "token_revoked", "forbidden", "unavailable"],
  },
  "POST /auth/logout-all": {
    summary: "End every session of the user (keepCurrent: all but this one)",
    tag: "auth",
    auth: "session",
    body: logoutAllBody,
    success: { status: 204, content: "empty" },
    errors: ["token_invalid", "token_expired", "token_revoked", "forbidden", "unavailable"],
  },
  "POST /auth/reauthenticate": {
    summary:
      "Prove who you are again (password, or a provider's fields with `provider`): a new authenticatedAt, no new session",
    tag: "auth",
    auth: "session",
    body: z.union([passwordProof, providerProof]),
    success: { status: 200, content: "json", schema: "SessionAnswer" },
    errors: [
      "invalid_request",
      "invalid_credentials",
      "token_invalid",
      "token_expired",
      "token_revoked",
      "forbidden",
      "rate_limited",
      "unavailable",
    ],
  },
  "POST /auth/password": {
    summary: "Change the password (needs the current one); every other session of the user ends",
    tag: "auth",
    auth: "session",
    body: passwordBody,
    success: { status: 204, content: "empty" },
    errors: [
      "invalid_request",
      "invalid_credentials",
      "token_invalid",
      "token_expired",
      "token_revoked",
      "forbidden",
      "rate_limited",
      "unavailable",
    ],
  },
  "GET /auth/session": {
    summary: "This session and its user",
    tag: "sessions",
    auth: "session",
    success: { status: 200, content: "json", schema: "SessionAnswer" },
    errors: ["token_invalid", "token_expired", "token_revoked", "unavailable"],
  },
  "PUT /auth/session/data": {
    summary: "Replace this session's data (any JSON value)",
    tag: "sessions",
    auth: "session",
    body: sessionData,
    success: { status: 200, content: "json", schema: "SessionAnswer" },
    errors: [
      "invalid_request",
      "payload_too_large",
      "token_invalid",
      "token_expired",
      "token_revoked",
      "forbidden",
      "unavailable",
    ],
  },
  "GET /auth/events": {
    summary: "The user's own security events, newest first (?limit=1..200, ?before=<next>, ?kind=a,b)",
    tag: "sessions",
    auth: "session",
    query: eventsQuery,
    success: { status: 200, content: "json", schema: "SecurityEventPage" },
    errors: ["invalid_request", "token_invalid", "token_expired", "token_revoked", "unavailable"],
  },
  "GET /auth/sessions": {
    summary: "The user's live sessions, with which one is this one",
    tag: "sessions",
    auth: "session",
    success: { status: 200, content: "json", schema: "SessionList" },
    errors: ["token_invalid", "token_expired", "token_revoked", "unavailable"],
  },
  "DELETE /auth/sessions/:id": {
    summary: "End one of the user's sessions (another user's id is 404)",
    tag: "sessions",
    auth: "session",
    success: { status: 204, content: "empty" },
    errors: ["not_found", "token_invalid", "token_expired", "token_revoked", "forbidden", "unavailable"],
  },
  "POST /auth/links": {
    summary: "Issue a single-use pre-authenticated link carrying server-side data",
    tag: "links",
    auth: "session",
    body: issueBody,
    success: { status: 201, content: "json", schema: "Link" },
    errors: [
      "invalid_request",
      "payload_too_large",
      "token_invalid",
      "token_expired",
      "token_revoked",
      "forbidden",
      "unavailable",
    ],
  },
  "GET /auth/links/:token": {
    summary:
      "Redeem a link (JSON clients get a token pair; browsers are redirected or shown a confirmation page)",
    tag: "links",
    auth: "none",
    success: { status: 200, content: "json", schema: "TokenPair" },
    errors: ["token_invalid", "link_used", "link_expired", "not_found", "unavailable"],
  },
  "POST /auth/links/:token": {
    summary: "Redeem a link that asks for confirmation",
    tag: "links",
    auth: "none",
    success: { status: 200, content: "json", schema: "TokenPair" },
    errors: ["token_invalid", "link_used", "link_expired", "not_found", "forbidden", "unavailable"],
  },
  "GET /.well-known/jwks.json": {
    summary: "The public keys that verify access JWTs",
    tag: "keys",
    auth: "none",
    success: { status: 200, content: "json", schema: "Jwks" },
    errors: [],
  },
  "GET /livez": {
    summary: "Liveness: the process answers",
    tag: "health",
    auth: "none",
    success: { status: 200, content: "json", schema: "Health" },
    errors: [],
  },
  "GET /healthz": {
    summary: "Readiness: the store answers and accepts writes (503 otherwise)",
    tag: "health",
    auth: "none",
    success: { status: 200, content: "json", schema: "Health" },
    errors: ["unavailable"],
  },
  "GET /metrics": {
    summary: "Prometheus metrics",
    tag: "health",
    auth: "none",
    success: { status: 200, content: "text" },
    errors: [],
  },
  "GET /openapi.json": {
    summary: "This document",
    tag: "health",
    auth: "none",
    success: { status: 200, content: "json" },
    errors: [],
  },
  "GET /account": {
    summary: "Redirects to the sessions page",
    tag: "pages",
    auth: "none",
    success: { status: 303, content: "redirect" },
    errors: [],
  },
  "GET /account/sessions": {
    summary: "The sessions & devices page (a signed-out browser is sent to sign in)",
    tag: "pages",
    auth: "cookie",
    success: { status: 200, content: "html" },
    errors: [],
  },
  "GET /account/sessions/activity": {
    summary: "The sessions page's next page of recent activity, as an HTML fragment (?before=<cursor>)",
    tag: "pages",
    auth: "cookie",
    query: activityQuery,
    success: { status: 200, content: "html" },
    errors: ["invalid_request", "token_invalid", "token_expired", "token_revoked", "unavailable"],
  },
  "GET /account/sign-in": {
    summary: "The sign-in form",
    tag: "pages",
    auth: "none",
    success: { status: 200, content: "html" },
    errors: [],
  },
  "POST /account/sign-in": {
    summary: "The sign-in form's post (form-urlencoded); sets the session cookie and redirects",
    tag: "pages",
    auth: "none",
    success: { status: 303, content: "redirect" },
    errors: ["invalid_credentials", "rate_limited"],
  },
  "POST /account/sign-in/:provider": {
    summary: "The sign-in form's post for a provider",
    tag: "pages",
    auth: "none",
    success: { status: 303, content: "redirect" },
    errors: ["invalid_credentials", "rate_limited"],
  },
  "GET /account/assets/account.css": {
    summary: "The pages' stylesheet",
    tag: "pages",
    auth: "none",
    success: { status: 200, content: "text" },
    errors: [],
  },
  "GET /account/assets/sessions.js": {
    summary: "The sessions page's script",
    tag: "pages",
    auth: "none",
    success: { status: 200, content: "text" },
    errors: [],
  },
};

export interface OpenApiRouteOptions {
  /** Every route the app registered (filled by its onRoute hook before the app is ready). */
  readonly routes: readonly RegisteredRoute[];
  /** `"METHOD /path"` of the routes plugins added. */
  readonly pluginRoutes: ReadonlySet<string>;
}

export async function openApiRoutes(app: FastifyInstance, options: OpenApiRouteOptions): Promise<void> {
  let document: string | undefined;
  app.get("/openapi.json", async (_request, reply) => {
    // Built at the first request, when every route is registered, and kept.
    document ??= JSON.stringify(
      openApiDocument({
        routes: options.routes,
        operations: OPERATIONS,
        pluginRoutes: options.pluginRoutes,
        version: VERSION,
      }),
    );
    return reply.type("application/json; charset=utf-8").send(document);
  });
}
