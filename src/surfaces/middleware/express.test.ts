import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { describe, expect, it } from "vitest";
import { FRESH_MAX_AGE, guardSuite } from "../../../test/guard-suite.js";
import { makeEngine } from "../../../test/kit.js";
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

describe("Express guard behind a proxy", () => {
  it("a forwarded address that is not an IP counts as the peer's: rotating junk values does not dodge the guessing throttle", async () => {
    const { tessera } = await makeEngine({ tokenThrottle: { maxFailures: 3 } });
    const app = express();
    app.set("trust proxy", true);
    app.get("/me", tesseraGuard({ tessera }), (_req, res) => {
      res.json({});
    });
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const codes: string[] = [];
      for (const forwarded of ["<script>", "x".repeat(300), "not-an-ip", "999.1.1.1"]) {
        const response = await fetch(`http://127.0.0.1:${port}/me`, {
          headers: { authorization: "Bearer not-a-real-token", "x-forwarded-for": forwarded },
        });
        codes.push(((await response.json()) as { error: { code: string } }).error.code);
      }
      expect(codes).toEqual(["token_invalid", "token_invalid", "token_invalid", "rate_limited"]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
