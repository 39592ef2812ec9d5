import Fastify, { type FastifyRequest } from "fastify";
import { FRESH_MAX_AGE, guardSuite } from "../../../test/guard-suite.js";
import { tesseraGuard } from "./fastify.js";

guardSuite("Fastify", async (tessera) => {
  const app = Fastify();
  const guard = tesseraGuard({ tessera });
  const answer = async (request: FastifyRequest) => ({
    userId: request.tessera?.user.id,
    sessionId: request.tessera?.session.id,
    via: request.tessera?.via,
  });
  app.get("/me", { preHandler: guard }, answer);
  app.post("/action", { preHandler: guard }, answer);
  app.get("/fresh", { preHandler: tesseraGuard({ tessera, maxAge: FRESH_MAX_AGE }) }, answer);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, close: () => app.close() };
});
