/**
 * A complete example Tessera plugin, as a partner integration package would ship it: one
 * auth provider, one hook and two routes, installed by the application with one line —
 *
 * ```ts
 * await tessera.use(acmePlugin({ ticketSecret: process.env.ACME_TICKET_SECRET! }));
 * ```
 *
 * — before the HTTP app is built. Nothing else in the application's set-up changes.
 *
 * The story is seed 001's: Acme's systems hand a user a *ticket* (an HMAC of their account
 * name under a secret shared with us). Acme can then either log the user in directly
 * (`POST /auth/login/acme-ticket`, a token pair), or ask for a single-use pre-authenticated
 * link carrying the user's profile (`POST /acme/links`), which whoever opens it redeems
 * with a plain GET — answered in Acme's own XML format, chosen by the provider.
 *
 * A real package would import from "tessera-sessions"; this example imports from the source tree.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { type AuthProvider, type LinkRedemption, TesseraError, type TesseraPlugin } from "../../src/index.js";

export interface AcmePluginOptions {
  /** The secret Acme signs tickets with (at least 32 bytes). */
  readonly ticketSecret: string;
  /** Where a redeemed link sends a browser. @default "/" */
  readonly redirectTo?: string;
  /** How long an Acme link lives, in seconds. @default 300 */
  readonly linkTtlSeconds?: number;
}

/** One line of the plugin's audit trail, written by its `sessionCreated` hook. */
export interface AcmeAuditEntry {
  readonly sessionId: string;
  readonly userId: number;
  readonly provider: string;
}

export interface AcmePlugin extends TesseraPlugin {
  /** Sessions created through Acme, newest last (a real plugin would write to its own log). */
  readonly audit: readonly AcmeAuditEntry[];
}

const ticketInput = z
  .object({
    account: z.string().min(1).max(64),
    /** Hex HMAC-SHA256 of `account` under the shared secret. */
    ticket: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 hex digits"),
    plan: z.enum(["free", "pro"]).default("free"),
  })
  .strict();

/** How Acme makes a ticket (for Acme's side, and for tests). */
export function acmeTicket(secret: string, account: string): string {
  return createHmac("sha256", secret).update(account).digest("hex");
}

export function acmePlugin(options: AcmePluginOptions): AcmePlugin {
  if (Buffer.byteLength(options.ticketSecret) < 32)
    throw new TypeError("acmePlugin: ticketSecret needs 32 bytes");
  const audit: AcmeAuditEntry[] = [];

  const provider: AuthProvider<z.infer<typeof ticketInput>> = {
    name: "acme-ticket",
    schema: ticketInput,
    async authenticate(input, context) {
      const expected = Buffer.from(acmeTicket(options.ticketSecret, input.account), "hex");
      if (!timingSafeEqual(expected, Buffer.from(input.ticket, "hex"))) {
        throw new TesseraError("invalid_credentials", "The Acme ticket is not valid.");
      }
      // Acme's account names are Acme's namespace, not this deployment's usernames: an Acme
      // "alice" is not the local user alice unless an operator linked them (`tessera users link`).
      const user = await context.resolveIdentity({ issuer: "", subject: input.account });
      return { user, data: { via: "acme", plan: input.plan }, tokenType: "session" };
    },
    // Acme's clients read XML; everyone else gets Tessera's default (redirect or JSON).
    formatLinkResponse: (result: LinkRedemption) => ({
      contentType: "application/xml; charset=utf-8",
      body: `<acme-session id="${xml(result.sessionId)}" user="${xml(result.user.username)}" token="${xml(result.sessionToken)}"/>`,
    }),
  };

  return {
    name: "acme",
    audit,
    providers: [provider],
    hooks: {
      sessionCreated: ({ session, provider: by }) => {
        if (by === "acme-ticket") audit.push({ sessionId: session.id, userId: session.userId, provider: by });
      },
    },
    routes: [
      {
        // Seed 001: a validated, authenticated request answered with a pre-authenticated URL.
        method: "POST",
        path: "/acme/links",
        async handler(request, tessera) {
          const result = await tessera.authenticate("acme-ticket", request.body, request.metadata);
          const link = await tessera.issueLink({
            userId: result.user.id,
            data: result.data ?? null,
            provider: result.provider,
            redirectTo: options.redirectTo ?? "/",
            ttlSeconds: options.linkTtlSeconds ?? 300,
          });
          return { status: 201, body: { path: link.path, expiresAt: link.expiresAt } };
        },
      },
      {
        method: "GET",
        path: "/acme/me",
        auth: true,
        handler(request) {
          const data = request.session?.data;
          const plan =
            typeof data === "object" && data !== null && !Array.isArray(data) ? (data.plan ?? null) : null;
          return { body: { username: request.user?.username ?? null, plan } };
        },
      },
    ],
  };
}

function xml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
