/**
 * The contract's HTTP API end to end: a real server (`startServer`, SQLite in a temp
 * directory) on a free port, driven with plain `fetch`, endpoint by endpoint and error code
 * by error code, as an outside client would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Session, TokenPair } from "../src/engine/types.js";
import { startTestServer } from "./server-kit.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let base: string;
beforeAll(async () => {
  server = await startTestServer({ maxSessionDataBytes: 4096 });
  base = server.urls.http;
});
afterAll(async () => {
  await server.stop();
});

interface Call {
  method?: string;
  token?: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

async function call(path: string, options: Call = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.raw !== undefined || options.body !== undefined) {
    headers["content-type"] ??= "application/json";
    payload = options.raw ?? JSON.stringify(options.body);
  }
  const response = await fetch(`${base}${path}`, {
    method: options.method ?? (payload === undefined ? "GET" : "POST"),
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await response.text();
  const json =
    text !== "" && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined;
  return { status: response.status, headers: response.headers, text, json };
}

const code = (result: { json?: { error?: { code?: string } } }) => result.json?.error?.code;

let n = 0;
async function newUser() {
  const username = `e2e-${++n}-${Math.random().toString(36).slice(2, 6)}`;
  const registered = await call("/auth/register", { body: { username, password: "secret123" } });
  expect(registered.status).toBe(201);
  const login = await call("/auth/login", { body: { username, password: "secret123" } });
  expect(login.status).toBe(200);
  return { username, pair: login.json as TokenPair };
}

describe("HTTP API over a real port", () => {
  it("register → 201 {user}; the same name again → 409 username_taken", async () => {
    const first = await call("/auth/register", { body: { username: "Alice", password: "secret123" } });
    expect(first.status).toBe(201);
    expect(first.json.user).toMatchObject({ username: "Alice" });
    expect(Number.isInteger(first.json.user.id) && first.json.user.id > 0).toBe(true);
    const again = await call("/auth/register", { body: { username: "alice", password: "secret123" } });
    expect(again.status).toBe(409);
    expect(code(again)).toBe("username_taken");
  });

  it("login and login/unamepwd → 200 JWT pair; bad password → 401 invalid_credentials", async () => {
    const { username, pair } = await newUser();
    expect(pair.tokenType).toBe("jwt");
    expect(Object.keys(pair).sort()).toEqual(
      [
        "accessExpiration",
        "accessToken",
        "refreshExpiration",
        "refreshToken",
        "sessionId",
        "tokenType",
        "user",
      ].sort(),
    );
    const alias = await call("/auth/login/unamepwd", { body: { username, password: "secret123" } });
    expect(alias.status).toBe(200);
    const wrong = await call("/auth/login", { body: { username, password: "wrong-one" } });
    expect(wrong.status).toBe(401);
    expect(code(wrong)).toBe("invalid_credentials");
  });

  it("upgrade → session token; the JWT is then token_revoked; session, data, list, delete, logout", async () => {
    const { pair, username } = await newUser();
    const upgraded = await call("/auth/upgrade", {
      method: "POST",
      token: pair.accessToken,
      body: { token: pair.accessToken },
    });
    expect(upgraded.status).toBe(200);
    const session = upgraded.json as TokenPair;
    expect(session.tokenType).toBe("session");
    expect(upgraded.headers.get("set-cookie")).toMatch(/^tessera_session=tss_.*HttpOnly; SameSite=Lax/);
    const refused = await call("/auth/session", { token: pair.accessToken });
    expect([refused.status, code(refused)]).toEqual([401, "token_revoked"]);

    const current = await call("/auth/session", { token: session.accessToken });
    expect(current.status).toBe(200);
    expect((current.json.session as Session).tokenType).toBe("session");

    const data = await call("/auth/session/data", {
      method: "PUT",
      token: session.accessToken,
      body: { level: 3 },
    });
    expect(data.status).toBe(200);
    expect(data.json.session.data).toEqual({ level: 3 });

    const other = (await call("/auth/login", { body: { username, password: "secret123" } }))
      .json as TokenPair;
    const list = await call("/auth/sessions", { token: session.accessToken });
    expect(list.json.currentSessionId).toBe(session.sessionId);
    expect(list.json.sessions.map((s: Session) => s.id).sort()).toEqual(
      [session.sessionId, other.sessionId].sort(),
    );

    const removed = await call(`/auth/sessions/${other.sessionId}`, {
      method: "DELETE",
      token: session.accessToken,
    });
    expect(removed.status).toBe(204);
    expect(code(await call("/auth/session", { token: other.accessToken }))).toBe("token_revoked");

    const out = await call("/auth/logout", { method: "POST", token: session.accessToken });
    expect(out.status).toBe(204);
    expect(code(await call("/auth/session", { token: session.accessToken }))).toBe("token_revoked");
  });

  it("refresh rotates; reuse after the successor was used → 401 refresh_token_reused and the session ends", async () => {
    const { pair } = await newUser();
    const next = (await call("/auth/refresh", { body: { refreshToken: pair.refreshToken } }))
      .json as TokenPair;
    expect(next.refreshToken).not.toBe(pair.refreshToken);
    const third = await call("/auth/refresh", { body: { refreshToken: next.refreshToken } });
    expect(third.status).toBe(200);
    const reused = await call("/auth/refresh", { body: { refreshToken: pair.refreshToken } });
    expect([reused.status, code(reused)]).toEqual([401, "refresh_token_reused"]);
    expect(code(await call("/auth/session", { token: (third.json as TokenPair).accessToken }))).toBe(
      "token_revoked",
    );
  });

  it("logout-all → 204 and every session of the user ends", async () => {
    const { username, pair } = await newUser();
    const second = (await call("/auth/login", { body: { username, password: "secret123" } }))
      .json as TokenPair;
    expect((await call("/auth/logout-all", { method: "POST", token: second.accessToken })).status).toBe(204);
    expect(code(await call("/auth/session", { token: pair.accessToken }))).toBe("token_revoked");
  });

  it("another user's session id → 404 not_found", async () => {
    const mine = await newUser();
    const theirs = await newUser();
    const response = await call(`/auth/sessions/${theirs.pair.sessionId}`, {
      method: "DELETE",
      token: mine.pair.accessToken,
    });
    expect([response.status, code(response)]).toEqual([404, "not_found"]);
  });

  it("400 invalid_request: bad JSON, wrong types, unknown fields — with issues", async () => {
    const bad = await call("/auth/login", { raw: "{oops" });
    expect([bad.status, code(bad)]).toEqual([400, "invalid_request"]);
    const typed = await call("/auth/register", {
      body: { username: 1, password: "secret123", role: "admin" },
    });
    expect(typed.status).toBe(400);
    expect(typed.json.error.issues.map((issue: { path: string }) => issue.path).sort()).toEqual([
      "(body)",
      "username",
    ]);
  });

  it("401 token_invalid for a missing, malformed, tampered or wrong-kind token", async () => {
    const { pair } = await newUser();
    for (const token of [undefined, "nonsense", pair.refreshToken, `${pair.accessToken}x`]) {
      const response = await call("/auth/session", token === undefined ? {} : { token });
      expect([response.status, code(response)]).toEqual([401, "token_invalid"]);
    }
  });

  it("403 forbidden: a cookie-authenticated POST from another site without CSRF proof", async () => {
    const { pair } = await newUser();
    const upgraded = (await call("/auth/upgrade", { method: "POST", token: pair.accessToken }))
      .json as TokenPair;
    const cookie = `tessera_session=${upgraded.accessToken}`;
    const origin = "https://elsewhere.example";
    const refused = await call("/auth/logout", { method: "POST", headers: { cookie, origin } });
    expect([refused.status, code(refused)]).toEqual([403, "forbidden"]);
    const allowed = await call("/auth/logout", {
      method: "POST",
      headers: { cookie, origin, "x-tessera-csrf": "1" },
    });
    expect(allowed.status).toBe(204);
  });

  it("404 not_found for an unknown route and an unknown provider", async () => {
    expect(code(await call("/nope"))).toBe("not_found");
    const provider = await call("/auth/login/nope", { body: {} });
    expect([provider.status, code(provider)]).toEqual([404, "not_found"]);
  });

  it("413 payload_too_large: session data over the cap, and a body over the HTTP limit", async () => {
    const { pair } = await newUser();
    const over = await call("/auth/session/data", {
      method: "PUT",
      token: pair.accessToken,
      body: "x".repeat(5000),
    });
    expect([over.status, code(over)]).toEqual([413, "payload_too_large"]);
    const huge = await call("/auth/register", {
      raw: JSON.stringify({ username: "x".repeat(200_000), password: "p" }),
    });
    expect([huge.status, code(huge)]).toEqual([413, "payload_too_large"]);
  });

  it("429 rate_limited with Retry-After after repeated failed logins", async () => {
    const { username } = await newUser();
    let last = await call("/auth/login", { body: { username, password: "wrong-one" } });
    for (let i = 0; i < 10 && last.status !== 429; i++) {
      last = await call("/auth/login", { body: { username, password: "wrong-one" } });
    }
    expect([last.status, code(last)]).toEqual([429, "rate_limited"]);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("jwks, healthz and metrics", async () => {
    const jwks = await call("/.well-known/jwks.json");
    expect(jwks.status).toBe(200);
    expect(jwks.json.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA" });
    expect(jwks.json.keys[0]).not.toHaveProperty("d");
    expect((await call("/healthz")).json).toEqual({ status: "ok" });
    const metrics = await call("/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain("tessera_logins_total");
    expect(metrics.text).toContain("process_cpu_user_seconds_total");
  });
});

describe("when the store is down", () => {
  it("healthz → 503 {status: unavailable} and an engine call → 503 unavailable", async () => {
    const down = await startTestServer();
    try {
      const url = down.urls.http;
      await down.store.close();
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: "unavailable", error: { code: "unavailable" } });
      const login = await fetch(`${url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "x", password: "secret123" }),
      });
      expect(login.status).toBe(503);
      expect(((await login.json()) as { error: { code: string } }).error.code).toBe("unavailable");
    } finally {
      await down.stop().catch(() => undefined);
    }
  });
});
