import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { FRESH_MAX_AGE, guardSuite } from "../../../test/guard-suite.js";
import { type TesseraEnv, tesseraGuard } from "./hono.js";

guardSuite("Hono", async (tessera) => {
  const app = new Hono<TesseraEnv>();
  app.use("*", tesseraGuard({ tessera }));
  app.use("/fresh", tesseraGuard({ tessera, maxAge: FRESH_MAX_AGE }));
  const answer = (c: import("hono").Context<TesseraEnv>) => {
    const auth = c.get("tessera");
    return c.json({ userId: auth.user.id, sessionId: auth.session.id, via: auth.via });
  };
  app.get("/me", answer);
  app.post("/action", answer);
  app.get("/fresh", answer);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
});
