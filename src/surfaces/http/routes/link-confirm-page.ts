/**
 * The confirmation page of a `confirm: true` link: one sentence and one button that POSTs
 * back to the same URL (a form without `action` submits to the page's own address, so the
 * token is never written into the page). No scripts, styles, images or other resources;
 * every dynamic value is HTML-escaped; the CSP forbids everything but that one form post
 * (and the redirect it leads to), and framing is refused so the button cannot be
 * clickjacked.
 */

export interface ConfirmationPage {
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ConfirmationPageInput {
  readonly expiresAt: string;
  /** Origins the POST may redirect to (CSP `form-action` covers redirects in some browsers). */
  readonly formOrigins: readonly string[];
}

export function confirmationPage(input: ConfirmationPageInput): ConfirmationPage {
  const formAction = ["'self'", ...input.formOrigins.filter((origin) => origin !== "null")].join(" ");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Continue signing in</title>
</head>
<body>
<h1>Continue signing in</h1>
<p>This sign-in link works once. Press the button to use it now.</p>
<form method="post"><input type="hidden" name="confirm" value="1"><button type="submit">Continue</button></form>
<p><small>The link expires at ${escapeHtml(input.expiresAt)}.</small></p>
</body>
</html>
`;
  return {
    html,
    headers: {
      "content-security-policy": `default-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
    },
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
