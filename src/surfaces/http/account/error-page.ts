/**
 * The HTML face of a contract error, for a person whose browser opened a page route (a used
 * or expired link, an unknown page): the same status code as the JSON answer, a heading
 * that says what happened in plain words, the server's message, the contract's error code
 * in view (what support will ask for), and a way on. JSON clients never see it.
 */
import type { ErrorCode } from "../../../errors.js";
import { escapeHtml, renderPage } from "./html.js";

/** A heading and a next step per code; codes a page route cannot produce share the default. */
const WORDING: Partial<Record<ErrorCode, { title: string; hint: string }>> = {
  link_used: {
    title: "This link was already used",
    hint: "Sign-in links work once. Ask for a new link, or sign in with your password.",
  },
  link_expired: {
    title: "This link has expired",
    hint: "Sign-in links last a few minutes. Ask for a new link, or sign in with your password.",
  },
  not_found: {
    title: "Page not found",
    hint: "The address may be mistyped, or the link may be incomplete.",
  },
  token_invalid: { title: "You are signed out", hint: "Sign in to continue." },
  token_expired: { title: "Your session has expired", hint: "Sign in again to continue." },
  token_revoked: { title: "This session has ended", hint: "Sign in again to continue." },
  forbidden: {
    title: "This request was refused",
    hint: "It did not come from this site. Go back to the page and try again.",
  },
  rate_limited: { title: "Too many attempts", hint: "Wait a little and try again." },
  unavailable: {
    title: "Temporarily unavailable",
    hint: "The service cannot confirm your session right now. Try again in a moment.",
  },
  internal_error: { title: "Something went wrong", hint: "Try again in a moment." },
};

const FALLBACK = { title: "The request could not be completed", hint: "Go back and try again." };

export function errorPage(input: { status: number; code: ErrorCode; message: string }): string {
  const wording = WORDING[input.code] ?? FALLBACK;
  const main = `<section class="panel" aria-labelledby="error-title">
<h1 id="error-title">${escapeHtml(wording.title)}</h1>
<p>${escapeHtml(wording.hint)}</p>
<p class="detail">${escapeHtml(input.message)}</p>
<p class="code">Error code <code>${escapeHtml(input.code)}</code> · HTTP ${input.status}</p>
<p class="actions"><a class="button" href="/account/sign-in">Sign in</a> <a class="link" href="/account/sessions">Your sessions</a></p>
</section>`;
  return renderPage({ title: wording.title, main });
}
