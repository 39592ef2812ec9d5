/**
 * The HTTP setups a user would pick instead of Tessera, for the same routes, in the same
 * process as the bench: a bare Fastify app (the floor: no sessions at all), Fastify with
 * jose verifying a JWT on every request, and Express with express-session on Redis
 * (connect-redis 8, the `redis` client; a unique key prefix on the shared Redis).
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import Fastify from "fastify";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { createClient } from "redis";

export interface Peer {
  readonly url: string;
  /** Request headers that authenticate. */
  readonly headers: Record<string, string>;
  close(): Promise<void>;
}

/** Bare Fastify: `GET /bench/public` answering `{ok: true}`, nothing else. */
export async function bareFastify(): Promise<Peer> {
  const app = Fastify({ logger: false });
  app.get("/bench/public", async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url: `${url}/bench/public`, headers: {}, close: () => app.close() };
}

/** Fastify + jose: `GET /bench/private` verifies an EdDSA Bearer JWT on every request. */
export async function fastifyJose(): Promise<Peer> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA");
  const token = await new SignJWT({ sid: "s" })
    .setProtectedHeader({ alg: "EdDSA" })
    .setSubject("u")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
  const app = Fastify({ logger: false });
  app.get("/bench/private", async (request, reply) => {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? "");
    try {
      if (match?.[1] === undefined) throw new Error("no token");
      await jwtVerify(match[1], publicKey, { algorithms: ["EdDSA"] });
    } catch {
      return reply.code(401).send({ error: "unauthorized" });
    }
    return { ok: true };
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url: `${url}/bench/private`,
    headers: { authorization: `Bearer ${token}` },
    close: () => app.close(),
  };
}

/** Express + express-session on Redis: `GET /bench/private` needs a logged-in session. */
export async function expressSessionRedis(): Promise<Peer | null> {
  const client = createClient({ url: "redis://127.0.0.1:6379" });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch {
    return null;
  }
  const prefix = `tessera-bench-${randomUUID()}:`;
  const app = express();
  app.use(
    session({
      store: new RedisStore({ client, prefix }),
      secret: "bench-secret-bench-secret-bench-secret",
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.post("/login", (request, response) => {
    (request.session as unknown as { user: string }).user = "bench";
    response.json({ ok: true });
  });
  app.get("/bench/private", (request, response) => {
    if ((request.session as unknown as { user?: string }).user === undefined) {
      response.status(401).json({ error: "unauthorized" });
      return;
    }
    response.json({ ok: true });
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const login = await fetch(`${base}/login`, { method: "POST" });
  const cookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
  return {
    url: `${base}/bench/private`,
    headers: { cookie },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
        if (keys.length > 0) await client.del(keys);
      }
      await client.quit();
    },
  };
}
