/**
 * The shell of every HTML page the server shows a person (the sessions page, sign-in,
 * error pages): one layout, one stylesheet, at most one script, all served from this
 * origin. The CSP allows nothing else — no inline script or style, no other origin, no
 * framing — so an HTML-injection bug in a page cannot run script, and every dynamic value
 * is escaped anyway (`escapeHtml`).
 */
import type { FastifyReply } from "fastify";
import { escapeHtml } from "../routes/link-confirm-page.js";

export { escapeHtml };

/** The page CSP of the issue: our own script, style and fetches, nothing else. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": PAGE_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export const STYLESHEET_PATH = "/account/assets/account.css";
export const SESSIONS_SCRIPT_PATH = "/account/assets/sessions.js";

export interface PageInput {
  readonly title: string;
  /** Already-escaped HTML for `<main>`. */
  readonly main: string;
  /** A script path of ours to load (deferred). */
  readonly script?: string;
}

export function renderPage(input: PageInput): string {
  const script =
    input.script === undefined ? "" : `\n<script src="${escapeHtml(input.script)}" defer></script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(input.title)} · Tessera</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">${script}
</head>
<body>
<header class="top"><a class="brand" href="/account/sessions">Tessera</a><span class="top-note">Account</span></header>
<main id="main">
${input.main}
</main>
</body>
</html>
`;
}

/** Writes a page with the page headers. */
export function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(html);
}

/**
 * Whether the client prefers HTML to JSON: a browser navigating (`text/html,…,*\/*;q=0.8`)
 * does; `curl` (`*\/*`), `fetch` defaults and JSON clients do not, and keep the contract's
 * JSON bodies.
 */
export function wantsHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const html = accept.indexOf("text/html");
  if (html < 0) return false;
  const json = accept.indexOf("application/json");
  return json < 0 || html < json;
}

/** Routes whose failures a person sees: the account pages and links opened in a browser. */
export function isPageRoute(path: string): boolean {
  return path.startsWith("/account/") || path.startsWith("/auth/links/");
}

/**
 * A path on this server that is safe to send a browser back to after sign-in, or null: it
 * starts with one `/` (not `//host` or `/\host`, which browsers read as another origin) and
 * holds no control characters.
 */
export function safeReturnPath(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length > 2048) return null;
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return null;
  return raw;
}
