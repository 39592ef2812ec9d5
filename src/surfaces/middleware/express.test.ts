import type { AddressInfo } from "node:net";
import express from "express";
import { FRESH_MAX_AGE, guardSuite } from "../../../test/guard-suite.js";
import { tesseraGuard } from "./express.js";

guardSuite("Express", async (tessera) => {
  const app = express();
  const guard = tesseraGuard({ tessera });
  const answer = (req: express.Request, res: express.Response) => {
    res.json({ userId: req.tessera?.user.id, sessionId: req.tessera?.session.id, via: req.tessera?.via });
  };
  app.get("/me", guard, answer);
  app.post("/action", guard, answer);
  app.get("/fresh", tesseraGuard({ tessera, maxAge: FRESH_MAX_AGE }), answer);
  const server = await new Promise<import("node:http").Server>((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
});
