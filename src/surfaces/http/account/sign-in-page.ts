/**
 * The sign-in form: a plain HTML form, no script. It posts to `/account/sign-in` (the CSP's
 * `form-action 'self'`), whose answer sets the HttpOnly session cookie and sends the
 * browser back to the page that asked (`return`, a path on this server). A failed attempt
 * renders the form again with the reason and the contract's code, the username kept and the
 * password cleared.
 */
import type { ErrorCode } from "../../../errors.js";
import { escapeHtml, renderPage } from "./html.js";

export interface SignInPageInput {
  readonly returnTo: string;
  readonly username?: string;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  invalid_credentials: "That username and password do not match.",
  rate_limited: "Too many attempts. Wait a little, then try again.",
  invalid_request: "Fill in your username and password.",
  forbidden: "This form must be sent from this site. Reload the page and try again.",
};

export function signInPage(input: SignInPageInput): string {
  const error =
    input.error === undefined
      ? ""
      : `<p class="alert" role="alert" id="sign-in-error">${escapeHtml(
          MESSAGES[input.error.code] ?? input.error.message,
        )} <span class="code">(<code>${escapeHtml(input.error.code)}</code>)</span></p>`;
  const described = input.error === undefined ? "" : ' aria-describedby="sign-in-error"';
  const main = `<section class="panel narrow" aria-labelledby="sign-in-title">
<h1 id="sign-in-title">Sign in</h1>
<p class="lead">Sign in to see and manage the devices signed in to your account.</p>
${error}
<form class="stack" method="post" action="/account/sign-in"${described}>
<input type="hidden" name="return" value="${escapeHtml(input.returnTo)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(input.username ?? "")}"${input.username === undefined ? " autofocus" : ""}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${input.username === undefined ? "" : " autofocus"}>
<label for="deviceName">Name this device <span class="hint">(optional, shown in your sessions list)</span></label>
<input type="text" id="deviceName" name="deviceName" maxlength="64" autocomplete="off" placeholder="e.g. Work laptop">
<button type="submit">Sign in</button>
</form>
</section>`;
  return renderPage({ title: "Sign in", main });
}
