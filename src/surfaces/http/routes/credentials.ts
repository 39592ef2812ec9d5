/**
 * The signed-in user's own account (contract "Account and session policy"):
 * `POST /auth/reauthenticate` proves who they are again on the session they hold (no new
 * session, no new tokens: the answer is the session with its new `authenticatedAt`), and
 * `POST /auth/password` changes the password, ending every other session of the user.
 * Neither demands freshness: each carries its own proof.
 */
import type { FastifyInstance } from "fastify";
import * as z from "zod";
import { TesseraError } from "../../../errors.js";
import type { HttpContext } from "../context.js";
import { parseBody } from "../validation.js";

const secret = z.string().min(1).max(4096);

export const passwordBody = z.object({ currentPassword: secret, newPassword: secret }).strict();

export const passwordProof = z.object({ password: secret }).strict();

/** `{provider, ...fields}`: the provider's schema checks the fields, as at login. */
export const providerProof = z.object({ provider: z.string().min(1).max(40) }).passthrough();

export async function credentialRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { tessera } = ctx;

  app.post("/auth/reauthenticate", async (request) => {
    const { session } = await ctx.authenticate(request);
    const metadata = ctx.metadata(request);
    const body: unknown = request.body;
    const named = typeof body === "object" && body !== null && "provider" in body;
    if (!named) {
      const { password } = parseBody(passwordProof, body, "re-authentication");
      return { session: await tessera.reauthenticate({ sessionId: session.id, password, metadata }) };
    }
    const { provider, ...fields } = parseBody(providerProof, body, "re-authentication");
    if (tessera.provider(provider) === undefined) {
      throw new TesseraError(
        "invalid_request",
        "Invalid re-authentication: provider is not a login provider.",
        {
          issues: [{ path: "provider", message: "is not a login provider" }],
        },
      );
    }
    return {
      session: await tessera.reauthenticate({ sessionId: session.id, provider, fields, metadata }),
    };
  });

  app.post("/auth/password", async (request, reply) => {
    const { session } = await ctx.authenticate(request);
    const body = parseBody(passwordBody, request.body, "password change");
    await tessera.changePassword({ sessionId: session.id, ...body, metadata: ctx.metadata(request) });
    return reply.code(204).send();
  });
}
