/**
 * Links over a real port against a real SQLite file: the contract's concurrency promise
 * (of 100 simultaneous GETs of one link exactly one makes a session) and a session-data
 * payload at the 1 MiB cap surviving issue → store → redemption byte for byte.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tessera } from "../src/engine/tessera.js";
import type { Session, TokenPair } from "../src/engine/types.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { makeEngine } from "./kit.js";

const MIB = 1024 * 1024;

let dir: string;
let store: SqliteStore;
let tessera: Tessera;
let app: FastifyInstance;
let base: string;
let bearer: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-links-"));
  store = SqliteStore.open({ path: join(dir, "tessera.db") });
  ({ tessera } = await makeEngine({ store, clock: Date.now }));
  app = buildHttpApp({ tessera });
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await post("/auth/register", { username: "linker", password: "secret123" });
  bearer = (
    (await (await post("/auth/login", { username: "linker", password: "secret123" })).json()) as TokenPair
  ).accessToken;
});

afterAll(async () => {
  await app?.close();
  tessera?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

async function issue(body: unknown): Promise<Response> {
  return post("/auth/links", body, { authorization: `Bearer ${bearer}` });
}

/** A JSON string value whose encoding is exactly `bytes` bytes, with escapes and multi-byte characters in it. */
function jsonStringOfBytes(bytes: number): string {
  const prefix = 'é✓🙂 "quoted" \\ \n\t\u0001 ';
  const fixed = Buffer.byteLength(JSON.stringify(prefix));
  let filler = "";
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; filler.length < bytes - fixed; i++) filler += alphabet[(i * 7919) % alphabet.length];
  const value = prefix + filler;
  expect(Buffer.byteLength(JSON.stringify(value))).toBe(bytes);
  return value;
}

describe("links end to end (HTTP + SQLite file)", () => {
  it("100 concurrent GETs of one link give exactly one session; the other 99 get 410 link_used", async () => {
    const issued = await issue({ data: { race: true } });
    expect(issued.status).toBe(201);
    const { url } = (await issued.json()) as { url: string };
    const path = new URL(url).pathname;
    const before = await tessera.listSessions((await tessera.findUser("linker"))?.id ?? 0);

    const responses = await Promise.all(
      Array.from({ length: 100 }, () => fetch(base + path, { headers: { accept: "application/json" } })),
    );
    const statuses = responses.map((response) => response.status);
    const bodies = await Promise.all(
      responses.map((response) => response.json() as Promise<Record<string, unknown>>),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 410)).toHaveLength(99);
    for (const [i, status] of statuses.entries()) {
      if (status === 410)
        expect(bodies[i]).toEqual({ error: { code: "link_used", message: expect.any(String) } });
    }
    const after = await tessera.listSessions((await tessera.findUser("linker"))?.id ?? 0);
    const created = after.filter((session) => !before.some((old) => old.id === session.id));
    expect(created).toHaveLength(1);
    expect(created[0]?.data).toEqual({ race: true });
  });

  it("a 1 MiB payload (exactly the cap) survives issue, storage and redemption byte for byte", async () => {
    const data = { blob: jsonStringOfBytes(MIB - '{"blob":}'.length) };
    const encoded = JSON.stringify(data);
    expect(Buffer.byteLength(encoded)).toBe(MIB);
    const issued = await issue({ data });
    expect(issued.status).toBe(201);
    const { url } = (await issued.json()) as { url: string };
    // The data stays server-side: the URL is just the token.
    expect(url.length).toBeLessThan(200);

    const redeemed = await fetch(url.replace(/^http:\/\/[^/]+/, base), {
      headers: { accept: "application/json" },
    });
    expect(redeemed.status).toBe(200);
    const answer = (await redeemed.json()) as TokenPair & { session: Session };
    expect(JSON.stringify(answer.session.data)).toBe(encoded);

    // And again from the store, through the session token the link produced.
    const current = await fetch(`${base}/auth/session`, {
      headers: { authorization: `Bearer ${answer.accessToken}` },
    });
    expect(JSON.stringify(((await current.json()) as { session: Session }).session.data)).toBe(encoded);
  });

  it("one byte over the cap is refused with 413 payload_too_large", async () => {
    const data = { blob: jsonStringOfBytes(MIB + 1 - '{"blob":}'.length) };
    expect(Buffer.byteLength(JSON.stringify(data))).toBe(MIB + 1);
    const response = await issue({ data });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });
});
