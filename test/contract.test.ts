/**
 * The external contract (`shared/contract.md`), read line by line against a real server:
 * `startServer` on a fresh SQLite file with ephemeral ports, driven only by real clients —
 * `fetch` for HTTP, `ws` and `node:net` for the socket protocol, `@grpc/grpc-js` with the
 * repository's `.proto` for gRPC. The sections below follow the contract's own order; each
 * test names the sentence it checks. Exhaustive edge cases live beside the code and in the
 * other `test/` files; this file is the one place that reads like the contract.
 *
 * Time: the engine runs on the wall clock plus an offset the tests can move forward, so
 * lifetimes (15 min, 14 days, 10 min) are checked without waiting. The socket gateways keep
 * the real clock, as in production. Nothing here asserts how fast something happened.
 *
 * Readings chosen where the contract leaves room:
 * - `POST /auth/login/<unknown provider>` is 404 `not_found` (as docs/errors.md says);
 *   "unknown provider input" in the 400 row is read as input a provider does not know (an
 *   unknown field).
 * - The grace window of "Refresh-token reuse" applies to every surface, gRPC's reissue token
 *   included: a spent token revokes the session once its successor was used or the window
 *   passed; inside the window a repeat gets the same pair, access JWT included.
 * - "A browser holding the session cookie is accepted": on every route, with the cookie alone
 *   or with what a browser adds on our own pages (`Origin`); a change that a browser marks as
 *   coming from another site (foreign `Origin`, `Sec-Fetch-Site: cross-site`) is the 403
 *   `forbidden` row (CSRF).
 * - "Secure when served over HTTPS": the server does not terminate TLS, so HTTPS is a trusted
 *   proxy's `X-Forwarded-Proto: https`.
 * - gRPC `exp` is when `auth_token` expires: for a session token, the session's expiry.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/server/config.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import { FAST_PASSWORDS } from "./kit.js";
import { tempDir, testConfig } from "./server-kit.js";
import { type Closed, type Frame, openTcp, openWebSocket, type TestClient } from "./socket-kit.js";

// ---------------------------------------------------------------------------------------
// The server, the clock and the clients
// ---------------------------------------------------------------------------------------

let offsetMs = 0;
const clock = (): number => Date.now() + offsetMs;
const advance = (ms: number): void => {
  offsetMs += ms;
};

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const PASSWORD = "correct horse battery";
const USER_AGENT = "contract-test/1.0";
const ALLOWED_ORIGIN = "https://app.example.com";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** prefix + base64url(≥ 32 bytes, 43 characters) + a checksum. */
const opaque = (prefix: string) => new RegExp(`^${prefix}[A-Za-z0-9_-]{44,}$`);

let server: RunningServer;
let dir: ReturnType<typeof tempDir>;
/** Sockets opened before anything else, left silent, for the 5 s authentication deadline. */
let silent: { ws: TestClient; tcp: TestClient };

beforeAll(async () => {
  dir = tempDir("tessera-contract-");
  const gates = new GateRegistry().register("echo", ({ data, user, session }) => ({
    echoed: data,
    userId: user.id,
    sessionId: session.id,
  }));
  const config = testConfig(dir.path, {
    // Behind a proxy on this host: X-Forwarded-Proto says whether the client used HTTPS.
    trustProxy: "127.0.0.1",
    linkOrigins: [ALLOWED_ORIGIN],
    engine: { passwords: FAST_PASSWORDS, clock },
  });
  server = await startServer(config, { print: () => undefined, gates });
  silent = { ws: await openWebSocket(server.urls.ws), tcp: await openTcp(tcpPort()) };
});

afterAll(async () => {
  silent?.ws.close();
  silent?.tcp.close();
  await server?.close();
  dir?.remove();
});

const tcpPort = () => Number(new URL(server.urls.tcp).port);

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
  readonly body: any;
  readonly text: string;
}

interface RequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Sent as a JSON body. */
  readonly json?: unknown;
  /** Sent as the body, as it is, with `Content-Type: application/json`. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

/** One HTTP request with `fetch`; redirects are returned, not followed. */
async function api(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const hasBody = options.json !== undefined || options.raw !== undefined;
  const response = await fetch(new URL(path, server.urls.http), {
    method,
    redirect: "manual",
    headers: {
      "user-agent": USER_AGENT,
      ...(hasBody ? { "content-type": "application/json" } : {}),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(hasBody ? { body: options.raw ?? JSON.stringify(options.json) } : {}),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** Asserts the contract's error answer: status, `{"error": {"code", "message"}}`. */
function expectError(reply: Reply, httpStatus: number, code: string): void {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status: httpStatus, code });
  expect(typeof reply.body.error.message).toBe("string");
  expect(reply.body.error.message.length).toBeGreaterThan(0);
  expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
}

let userCounter = 0;

async function register(): Promise<{
  username: string;
  user: { id: number; uuid: string; username: string };
}> {
  const username = `contract-${++userCounter}-${randomUUID().slice(0, 8)}`;
  const reply = await api("POST", "/auth/register", { json: { username, password: PASSWORD } });
  expect(reply.status).toBe(201);
  return { username, user: reply.body.user };
}

// biome-ignore lint/suspicious/noExplicitAny: a token pair as the wire has it
type Pair = Record<string, any>;

async function login(username: string, extra: Record<string, unknown> = {}): Promise<Pair> {
  const reply = await api("POST", "/auth/login", { json: { username, password: PASSWORD, ...extra } });
  expect(reply.status).toBe(200);
  return reply.body;
}

/** A new user, logged in: a `jwt` pair. */
async function jwtPair(extra: Record<string, unknown> = {}): Promise<Pair> {
  const { username } = await register();
  return login(username, extra);
}

/** A new user, logged in and upgraded: a `session` pair. */
async function sessionPair(): Promise<Pair> {
  const pair = await jwtPair();
  const reply = await api("POST", "/auth/upgrade", { token: pair.accessToken });
  expect(reply.status).toBe(200);
  return reply.body;
}

/** Asserts the contract's token-pair shape. */
function expectTokenPair(pair: Pair, tokenType: "jwt" | "session"): void {
  expect(Object.keys(pair)).toEqual(
    expect.arrayContaining([
      "accessToken",
      "refreshToken",
      "accessExpiration",
      "refreshExpiration",
      "tokenType",
      "sessionId",
      "user",
    ]),
  );
  expect(pair.tokenType).toBe(tokenType);
  expect(pair.accessToken).toMatch(tokenType === "jwt" ? /^[\w-]+\.[\w-]+\.[\w-]+$/ : opaque("tss_"));
  expect(pair.refreshToken).toMatch(opaque("tsr_"));
  expect(pair.accessExpiration).toMatch(ISO_UTC);
  expect(pair.refreshExpiration).toMatch(ISO_UTC);
  expect(typeof pair.sessionId).toBe("string");
  expect(pair.sessionId.length).toBeGreaterThan(0);
  expect(Number.isInteger(pair.user.id) && pair.user.id > 0).toBe(true);
  expect(pair.user.uuid).toMatch(UUID);
  expect(typeof pair.user.username).toBe("string");
}

/** How a session token (or JWT) fares on `GET /auth/session`: 200, or the error code. */
async function standing(token: string): Promise<number | string> {
  const reply = await api("GET", "/auth/session", { token });
  return reply.status === 200 ? 200 : String(reply.body?.error?.code);
}

function cookieOf(reply: Reply): string | null {
  return reply.headers.get("set-cookie");
}

async function jwks(): Promise<JSONWebKeySet> {
  return (await api("GET", "/.well-known/jwks.json")).body as JSONWebKeySet;
}

/** A token with one character changed near its end (checksum or signature no longer match). */
function tampered(token: string): string {
  const at = token.length - 2;
  const swap = token[at] === "A" ? "B" : "A";
  return token.slice(0, at) + swap + token.slice(at + 1);
}

// ---------------------------------------------------------------------------------------
// Token kinds
// ---------------------------------------------------------------------------------------

describe("Token kinds", () => {
  it("access JWT: compact JWS, header typ at+jwt and a kid; claims iss, sub (user uuid), sid, jti, iat, exp, username, metadata", async () => {
    const pair = await jwtPair();
    const header = decodeProtectedHeader(pair.accessToken);
    expect(header.typ).toBe("at+jwt");
    expect(typeof header.kid).toBe("string");
    expect(header.alg).toBe("EdDSA");

    // Verified as an outside service would: against the published JWKS.
    const { payload } = await jwtVerify(pair.accessToken, createLocalJWKSet(await jwks()), {
      issuer: "tessera",
      typ: "at+jwt",
      currentDate: new Date(clock()),
    });
    expect(payload).toMatchObject({
      iss: "tessera",
      sub: pair.user.uuid,
      sid: pair.sessionId,
      username: pair.user.username,
      metadata: { user_agent: USER_AGENT, ip_address: "127.0.0.1" },
    });
    expect(typeof payload.jti).toBe("string");
    expect(Number.isInteger(payload.iat)).toBe(true);
    // 15 minutes by default.
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(15 * 60);
    expect(Date.parse(pair.accessExpiration)).toBe((payload.exp ?? 0) * 1000);
  });

  it("session token tss_, refresh token tsr_, link token tsl_: base64url of ≥ 32 random bytes plus a checksum", async () => {
    const pair = await sessionPair();
    expect(pair.accessToken).toMatch(opaque("tss_"));
    expect(pair.refreshToken).toMatch(opaque("tsr_"));
    const link = await api("POST", "/auth/links", { token: pair.accessToken, json: {} });
    expect(new URL(link.body.url).pathname.split("/").pop()).toMatch(opaque("tsl_"));
  });

  it("a mistyped token (bad checksum) is rejected as token_invalid", async () => {
    const pair = await sessionPair();
    expectError(
      await api("GET", "/auth/session", { token: tampered(pair.accessToken) }),
      401,
      "token_invalid",
    );
    expectError(
      await api("POST", "/auth/refresh", { json: { refreshToken: tampered(pair.refreshToken) } }),
      401,
      "token_invalid",
    );
  });

  it("the session lifetime is 14 days; the access JWT's 15 minutes", async () => {
    const before = clock();
    const pair = await jwtPair();
    const after = clock();
    const refreshAt = Date.parse(pair.refreshExpiration);
    expect(refreshAt).toBeGreaterThanOrEqual(before + 14 * DAY - 1000);
    expect(refreshAt).toBeLessThanOrEqual(after + 14 * DAY + 1000);
    const accessAt = Date.parse(pair.accessExpiration);
    expect(accessAt).toBeGreaterThanOrEqual(before + 15 * MINUTE - 1000);
    expect(accessAt).toBeLessThanOrEqual(after + 15 * MINUTE + 1000);
  });

  it("a session is one login on one device: id, userId, deviceId, deviceName, createdAt, lastSeenAt, expiresAt, authenticatedAt, tokenType, metadata, data", async () => {
    const pair = await jwtPair({ deviceId: "laptop-1" });
    const { body } = await api("GET", "/auth/session", { token: pair.accessToken });
    expect(body.session).toEqual({
      id: pair.sessionId,
      userId: pair.user.id,
      deviceId: "laptop-1",
      deviceName: null,
      createdAt: expect.stringMatching(ISO_UTC),
      lastSeenAt: expect.stringMatching(ISO_UTC),
      expiresAt: pair.refreshExpiration,
      maxExpiresAt: expect.stringMatching(ISO_UTC),
      authenticatedAt: expect.stringMatching(ISO_UTC),
      authMethods: ["pwd"],
      tokenType: "jwt",
      metadata: { userAgent: USER_AGENT, ipAddress: "127.0.0.1" },
      data: null,
    });
    const upgraded = await api("POST", "/auth/upgrade", { token: pair.accessToken });
    expect(
      (await api("GET", "/auth/session", { token: upgraded.body.accessToken })).body.session,
    ).toMatchObject({
      id: pair.sessionId,
      tokenType: "session",
    });
  });

  it("a login may name its device (deviceName, at most 64 characters); the session carries it", async () => {
    const pair = await jwtPair({ deviceName: "Ada's laptop" });
    const { body } = await api("GET", "/auth/session", { token: pair.accessToken });
    expect(body.session).toMatchObject({ deviceName: "Ada's laptop", authMethods: ["pwd"] });
    const { username } = await register();
    for (const deviceName of ["x".repeat(65), "", "tab\there", 42]) {
      const reply = await api("POST", "/auth/login", { json: { username, password: PASSWORD, deviceName } });
      expectError(reply, 400, "invalid_request");
    }
  });

  it("session data is arbitrary JSON up to 1 MiB", async () => {
    const pair = await sessionPair();
    // Exactly 1 MiB of JSON: a string of 1 MiB − 2 characters and its two quotes.
    const exactly = "x".repeat(1024 * 1024 - 2);
    const put = await api("PUT", "/auth/session/data", { token: pair.accessToken, json: exactly });
    expect(put.status).toBe(200);
    expect(put.body.session.data).toBe(exactly);
    expectError(
      await api("PUT", "/auth/session/data", { token: pair.accessToken, json: `${exactly}x` }),
      413,
      "payload_too_large",
    );
  });

  it("at most one live session per (user, deviceId): a login naming a deviceId in use ends the session that held it", async () => {
    const { username } = await register();
    const first = await login(username, { deviceId: "phone" });
    const other = await login(username, { deviceId: "tablet" });
    const second = await login(username, { deviceId: "phone" });
    expect(await standing(first.accessToken)).toBe("token_revoked");
    expect(await standing(second.accessToken)).toBe(200);
    expect(await standing(other.accessToken)).toBe(200);
  });

  it("tokens are stored server-side as digests, never as themselves", async () => {
    const pair = await sessionPair();
    const link = await api("POST", "/auth/links", { token: pair.accessToken, json: {} });
    const linkToken = String(new URL(link.body.url).pathname.split("/").pop());
    const stored = readdirSync(dir.path)
      .map((name) => readFileSync(join(dir.path, name)).toString("latin1"))
      .join("\n");
    expect(stored.length).toBeGreaterThan(0);
    for (const token of [pair.accessToken, pair.refreshToken, linkToken]) {
      expect(stored.includes(token)).toBe(false);
    }
  });

  it("signing algorithms EdDSA, ES256, RS256, PS256, HS256/384/512: the JWT says which, the JWKS publishes no secret", async () => {
    const algorithms = ["ES256", "RS256", "PS256", "HS256", "HS384", "HS512"] as const;
    for (const algorithm of algorithms) {
      const other = tempDir("tessera-contract-alg-");
      const hmac = algorithm.startsWith("HS");
      const running = await startServer(
        testConfig(other.path, {
          jwtAlgorithm: algorithm,
          jwtSecret: hmac ? "s".repeat(32) : null,
          grpc: false,
        }),
        { print: () => undefined },
      );
      try {
        const post = (path: string, body: unknown) =>
          fetch(`${running.urls.http}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
        await post("/auth/register", { username: "alg", password: PASSWORD });
        const pair = (await (
          await post("/auth/login", { username: "alg", password: PASSWORD })
        ).json()) as Pair;
        const header = decodeProtectedHeader(pair.accessToken);
        expect({ alg: header.alg, typ: header.typ, kid: typeof header.kid }).toEqual({
          alg: algorithm,
          typ: "at+jwt",
          kid: "string",
        });
        const published = (await (
          await fetch(`${running.urls.http}/.well-known/jwks.json`)
        ).json()) as JSONWebKeySet;
        if (hmac) expect(published.keys).toEqual([]);
        else expect(published.keys.map((key) => key.kid)).toContain(header.kid);
      } finally {
        await running.close();
        other.remove();
      }
    }
  });

  it("an HMAC secret shorter than 32 bytes is refused at start-up", () => {
    expect(() => loadConfig({ flags: { jwtAlgorithm: "HS256", jwtSecret: "too-short" }, env: {} })).toThrow(
      /32 bytes/,
    );
  });
});

// ---------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------

describe("HTTP API: errors", () => {
  it("invalid_request 400: bad JSON, a missing field, a wrong-typed field, unknown provider input", async () => {
    expectError(await api("POST", "/auth/login", { raw: "{not json" }), 400, "invalid_request");
    expectError(
      await api("POST", "/auth/register", { json: { username: "someone" } }),
      400,
      "invalid_request",
    );
    expectError(
      await api("POST", "/auth/register", { json: { username: "someone", password: 42 } }),
      400,
      "invalid_request",
    );
    expectError(await api("POST", "/auth/login", { json: { username: "someone" } }), 400, "invalid_request");
    expectError(
      await api("POST", "/auth/login", { json: { username: "a", password: "b", deviceId: 7 } }),
      400,
      "invalid_request",
    );
    expectError(
      await api("POST", "/auth/login/password", { json: { username: "a", password: "b", shoeSize: 44 } }),
      400,
      "invalid_request",
    );
    expectError(await api("POST", "/auth/refresh", { json: {} }), 400, "invalid_request");
  });

  it("invalid_credentials 401: a wrong password, and an unknown user alike", async () => {
    const { username } = await register();
    expectError(
      await api("POST", "/auth/login", { json: { username, password: "wrong password" } }),
      401,
      "invalid_credentials",
    );
    expectError(
      await api("POST", "/auth/login", { json: { username: `nobody-${randomUUID()}`, password: PASSWORD } }),
      401,
      "invalid_credentials",
    );
  });

  it("token_invalid 401: malformed, bad checksum, bad signature, wrong kind, unknown", async () => {
    const pair = await jwtPair();
    const session = await sessionPair();
    const cases = {
      malformed: "not-a-token",
      "bad checksum": tampered(session.accessToken),
      "bad signature": tampered(pair.accessToken),
      "wrong kind (a refresh token as Bearer)": pair.refreshToken,
      "unknown (well-formed, never issued)": await neverIssuedSessionToken(),
    };
    for (const [name, token] of Object.entries(cases)) {
      const reply = await api("GET", "/auth/session", { token });
      expect({ name, status: reply.status, code: reply.body?.error?.code }).toEqual({
        name,
        status: 401,
        code: "token_invalid",
      });
    }
    // Wrong kind the other way: a session token where a refresh token belongs.
    expectError(
      await api("POST", "/auth/refresh", { json: { refreshToken: session.accessToken } }),
      401,
      "token_invalid",
    );
    // No credential at all.
    expectError(await api("GET", "/auth/session"), 401, "token_invalid");
  });

  it("token_expired 401: an access JWT after its 15 minutes", async () => {
    const pair = await jwtPair();
    advance(16 * MINUTE);
    expectError(await api("GET", "/auth/session", { token: pair.accessToken }), 401, "token_expired");
    // The session itself lives on: refresh gives a fresh JWT.
    const refreshed = await api("POST", "/auth/refresh", { json: { refreshToken: pair.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(await standing(refreshed.body.accessToken)).toBe(200);
  });

  it("token_revoked 401: logged out, an upgraded JWT, a revoked session", async () => {
    const loggedOut = await sessionPair();
    await api("POST", "/auth/logout", { token: loggedOut.accessToken });
    expectError(await api("GET", "/auth/session", { token: loggedOut.accessToken }), 401, "token_revoked");

    const jwt = await jwtPair();
    await api("POST", "/auth/upgrade", { token: jwt.accessToken });
    expectError(await api("GET", "/auth/session", { token: jwt.accessToken }), 401, "token_revoked");

    const { username } = await register();
    const a = await login(username);
    const b = await login(username);
    expect((await api("DELETE", `/auth/sessions/${b.sessionId}`, { token: a.accessToken })).status).toBe(204);
    expectError(await api("GET", "/auth/session", { token: b.accessToken }), 401, "token_revoked");
  });

  it("refresh_token_reused 401: an already-rotated refresh token revokes the whole session", async () => {
    const pair = await sessionPair();
    const next = await api("POST", "/auth/refresh", { json: { refreshToken: pair.refreshToken } });
    expect(next.status).toBe(200);
    advance(11_000); // past the 10 s grace window
    expectError(
      await api("POST", "/auth/refresh", { json: { refreshToken: pair.refreshToken } }),
      401,
      "refresh_token_reused",
    );
    expectError(await api("GET", "/auth/session", { token: next.body.accessToken }), 401, "token_revoked");
    expect(
      (await api("POST", "/auth/refresh", { json: { refreshToken: next.body.refreshToken } })).status,
    ).toBe(401);
  });

  it("forbidden 403: a cookie-authenticated change that a browser marks as cross-site", async () => {
    const pair = await sessionPair();
    const cookie = `tessera_session=${pair.accessToken}`;
    expectError(
      await api("POST", "/auth/logout", { headers: { cookie, origin: "https://evil.example" } }),
      403,
      "forbidden",
    );
    expectError(
      await api("POST", "/auth/logout", { headers: { cookie, "sec-fetch-site": "cross-site" } }),
      403,
      "forbidden",
    );
    expect(await standing(pair.accessToken)).toBe(200);
  });

  it("not_found 404: an unknown route, an unknown provider, another user's session id", async () => {
    expectError(await api("GET", "/no/such/route"), 404, "not_found");
    expectError(
      await api("POST", "/auth/login/no-such-provider", { json: { username: "a", password: "b" } }),
      404,
      "not_found",
    );
    const mine = await jwtPair();
    const theirs = await jwtPair();
    expectError(
      await api("DELETE", `/auth/sessions/${theirs.sessionId}`, { token: mine.accessToken }),
      404,
      "not_found",
    );
    expect(await standing(theirs.accessToken)).toBe(200);
  });

  it("username_taken 409", async () => {
    const { username } = await register();
    expectError(
      await api("POST", "/auth/register", { json: { username, password: PASSWORD } }),
      409,
      "username_taken",
    );
  });

  it("payload_too_large 413: a body over the limit", async () => {
    const pair = await sessionPair();
    const huge = JSON.stringify({ blob: "y".repeat(2 * 1024 * 1024) });
    expectError(
      await api("PUT", "/auth/session/data", { token: pair.accessToken, raw: huge }),
      413,
      "payload_too_large",
    );
  });

  it("rate_limited 429 with a Retry-After header", async () => {
    const { username } = await register();
    // Its own client address (trusted proxy), so the rest of the file is not throttled.
    const headers = { "x-forwarded-for": "203.0.113.9" };
    let reply: Reply | undefined;
    for (let attempt = 0; attempt < 10; attempt++) {
      reply = await api("POST", "/auth/login", { json: { username, password: "wrong" }, headers });
      if (reply.status === 429) break;
      expect(reply.body.error.code).toBe("invalid_credentials");
    }
    if (reply === undefined) throw new Error("no attempt was made");
    expectError(reply, 429, "rate_limited");
    expect(reply.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  });
});

describe("HTTP API: authentication", () => {
  it("Authorization: Bearer takes an access JWT or a session token", async () => {
    const jwt = await jwtPair();
    const session = await sessionPair();
    expect(await standing(jwt.accessToken)).toBe(200);
    expect(await standing(session.accessToken)).toBe(200);
  });

  it("the session cookie tessera_session is HttpOnly, SameSite=Lax, and Secure only over HTTPS", async () => {
    const jwt = await jwtPair();
    const overHttp = await api("POST", "/auth/upgrade", { token: jwt.accessToken });
    const cookie = cookieOf(overHttp) ?? "";
    expect(cookie).toMatch(new RegExp(`^tessera_session=${overHttp.body.accessToken};`));
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax/i);
    expect(cookie).not.toMatch(/;\s*Secure/i);

    const jwt2 = await jwtPair();
    const overHttps = await api("POST", "/auth/upgrade", {
      token: jwt2.accessToken,
      headers: { "x-forwarded-proto": "https" },
    });
    expect(cookieOf(overHttps)).toMatch(/;\s*Secure/i);
  });

  it("a browser holding the cookie is accepted on every authenticated route", async () => {
    const pair = await sessionPair();
    // What a browser sends on a same-origin page: the cookie, and Origin on changes.
    const browser = { cookie: `tessera_session=${pair.accessToken}`, origin: server.urls.http };
    expect((await api("GET", "/auth/session", { headers: { cookie: browser.cookie } })).status).toBe(200);
    expect((await api("GET", "/auth/sessions", { headers: browser })).status).toBe(200);
    expect(
      (await api("PUT", "/auth/session/data", { json: { theme: "dark" }, headers: browser })).status,
    ).toBe(200);
    expect((await api("POST", "/auth/links", { json: {}, headers: browser })).status).toBe(201);
    const other = await login(pair.user.username);
    expect((await api("DELETE", `/auth/sessions/${other.sessionId}`, { headers: browser })).status).toBe(204);
    const logout = await api("POST", "/auth/logout", { headers: browser });
    expect(logout.status).toBe(204);
    expect(await standing(pair.accessToken)).toBe("token_revoked");
  });

  it("the cookie alone is accepted too, on reads and on changes", async () => {
    const pair = await sessionPair();
    const headers = { cookie: `tessera_session=${pair.accessToken}` };
    expect((await api("GET", "/auth/session", { headers })).status).toBe(200);
    expect((await api("PUT", "/auth/session/data", { json: [1], headers })).status).toBe(200);
    expect((await api("POST", "/auth/logout-all", { headers })).status).toBe(204);
    expect(await standing(pair.accessToken)).toBe("token_revoked");
  });
});

describe("HTTP API: routes", () => {
  it("POST /auth/register → 201 {user}", async () => {
    const username = `reg-${randomUUID().slice(0, 8)}`;
    const reply = await api("POST", "/auth/register", { json: { username, password: PASSWORD } });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({
      user: { id: expect.any(Number), uuid: expect.stringMatching(UUID), username },
    });
    expect(Number.isInteger(reply.body.user.id) && reply.body.user.id > 0).toBe(true);
  });

  it("POST /auth/login, /auth/login/password and its alias /auth/login/unamepwd → 200 token pair, tokenType jwt", async () => {
    const { username, user } = await register();
    for (const path of ["/auth/login", "/auth/login/password", "/auth/login/unamepwd"]) {
      const reply = await api("POST", path, { json: { username, password: PASSWORD } });
      expect(reply.status).toBe(200);
      expectTokenPair(reply.body, "jwt");
      expect(reply.body.user).toEqual(user);
    }
  });

  it("POST /auth/upgrade → 200 session pair; that JWT is refused from then on and a second upgrade fails", async () => {
    const jwt = await jwtPair();
    const reply = await api("POST", "/auth/upgrade", { token: jwt.accessToken });
    expect(reply.status).toBe(200);
    expectTokenPair(reply.body, "session");
    expect(reply.body.sessionId).toBe(jwt.sessionId);
    expect(await standing(reply.body.accessToken)).toBe(200);
    expectError(await api("GET", "/auth/session", { token: jwt.accessToken }), 401, "token_revoked");
    expectError(await api("POST", "/auth/upgrade", { token: jwt.accessToken }), 401, "token_revoked");
  });

  it("POST /auth/upgrade accepts a {token} body naming the same JWT", async () => {
    const a = await jwtPair();
    const both = await api("POST", "/auth/upgrade", { token: a.accessToken, json: { token: a.accessToken } });
    expect(both.status).toBe(200);
    expectTokenPair(both.body, "session");
    const b = await jwtPair();
    const bodyOnly = await api("POST", "/auth/upgrade", { json: { token: b.accessToken } });
    expect(bodyOnly.status).toBe(200);
    expectTokenPair(bodyOnly.body, "session");
  });

  it("POST /auth/refresh → 200 new pair of the session's tokenType; the old refresh token is spent", async () => {
    const jwt = await jwtPair();
    const fromJwt = await api("POST", "/auth/refresh", { json: { refreshToken: jwt.refreshToken } });
    expect(fromJwt.status).toBe(200);
    expectTokenPair(fromJwt.body, "jwt");
    expect(fromJwt.body.refreshToken).not.toBe(jwt.refreshToken);
    expect(fromJwt.body.sessionId).toBe(jwt.sessionId);

    const session = await sessionPair();
    const fromSession = await api("POST", "/auth/refresh", { json: { refreshToken: session.refreshToken } });
    expect(fromSession.status).toBe(200);
    expectTokenPair(fromSession.body, "session");
    expect(await standing(fromSession.body.accessToken)).toBe(200);
    // Spent: once its successor has been used, showing it again is reuse.
    await api("POST", "/auth/refresh", { json: { refreshToken: fromSession.body.refreshToken } });
    expectError(
      await api("POST", "/auth/refresh", { json: { refreshToken: session.refreshToken } }),
      401,
      "refresh_token_reused",
    );
  });

  it("refresh-token reuse: within the grace window every refresh with one token gets the same successor pair", async () => {
    for (const pair of [await jwtPair(), await sessionPair()]) {
      const body = { refreshToken: pair.refreshToken };
      const [a, b] = await Promise.all([
        api("POST", "/auth/refresh", { json: body }),
        api("POST", "/auth/refresh", { json: body }),
      ]);
      advance(5_000);
      const retried = await api("POST", "/auth/refresh", { json: body });
      for (const reply of [a, b, retried]) expect(reply.status).toBe(200);
      expect(b.body).toEqual(a.body);
      expect(retried.body).toEqual(a.body);
      expect(await standing(a.body.accessToken)).toBe(200);
    }
  });

  it("GET /auth/session → 200 {session}", async () => {
    const pair = await sessionPair();
    const reply = await api("GET", "/auth/session", { token: pair.accessToken });
    expect(reply.status).toBe(200);
    expect(reply.body.session).toMatchObject({
      id: pair.sessionId,
      userId: pair.user.id,
      tokenType: "session",
    });
  });

  it("PUT /auth/session/data takes any JSON value → 200 {session}", async () => {
    const pair = await sessionPair();
    for (const value of [{ cart: [1, 2, 3] }, [1, "two"], "text", 42, true, null]) {
      const reply = await api("PUT", "/auth/session/data", { token: pair.accessToken, json: value });
      expect(reply.status).toBe(200);
      expect(reply.body.session.data).toEqual(value);
      expect((await api("GET", "/auth/session", { token: pair.accessToken })).body.session.data).toEqual(
        value,
      );
    }
  });

  it("POST /auth/logout → 204; every token of that session is refused after", async () => {
    const pair = await jwtPair();
    const upgraded = (await api("POST", "/auth/upgrade", { token: pair.accessToken })).body;
    const reply = await api("POST", "/auth/logout", { token: upgraded.accessToken });
    expect(reply.status).toBe(204);
    expect(reply.text).toBe("");
    expect(await standing(upgraded.accessToken)).toBe("token_revoked");
    expect(await standing(pair.accessToken)).toBe("token_revoked");
    const refreshed = await api("POST", "/auth/refresh", { json: { refreshToken: upgraded.refreshToken } });
    expect(refreshed.status).toBe(401);

    const jwt = await jwtPair();
    expect((await api("POST", "/auth/logout", { token: jwt.accessToken })).status).toBe(204);
    expect(await standing(jwt.accessToken)).toBe("token_revoked");
    expect((await api("POST", "/auth/refresh", { json: { refreshToken: jwt.refreshToken } })).status).toBe(
      401,
    );
  });

  it("POST /auth/logout-all → 204; every session of the user ends", async () => {
    const { username } = await register();
    const a = await login(username);
    const b = await login(username, { deviceId: "second" });
    const bystander = await jwtPair();
    expect((await api("POST", "/auth/logout-all", { token: a.accessToken })).status).toBe(204);
    expect(await standing(a.accessToken)).toBe("token_revoked");
    expect(await standing(b.accessToken)).toBe("token_revoked");
    expect(await standing(bystander.accessToken)).toBe(200);
  });

  it("GET /auth/sessions → 200 {sessions, currentSessionId}", async () => {
    const { username } = await register();
    const a = await login(username);
    const b = await login(username, { deviceId: "second" });
    const reply = await api("GET", "/auth/sessions", { token: b.accessToken });
    expect(reply.status).toBe(200);
    expect(reply.body.currentSessionId).toBe(b.sessionId);
    expect(reply.body.sessions.map((s: { id: string }) => s.id).sort()).toEqual(
      [a.sessionId, b.sessionId].sort(),
    );
    for (const session of reply.body.sessions) expect(session.userId).toBe(a.user.id);
  });

  it("DELETE /auth/sessions/:id → 204", async () => {
    const { username } = await register();
    const a = await login(username);
    const b = await login(username, { deviceId: "second" });
    const reply = await api("DELETE", `/auth/sessions/${b.sessionId}`, { token: a.accessToken });
    expect(reply.status).toBe(204);
    expect(await standing(b.accessToken)).toBe("token_revoked");
    expect(await standing(a.accessToken)).toBe(200);
  });

  it("GET /.well-known/jwks.json → 200 {keys}, public parts only, one per kid", async () => {
    const reply = await api("GET", "/.well-known/jwks.json");
    expect(reply.status).toBe(200);
    expect(reply.body.keys.length).toBeGreaterThan(0);
    const pair = await jwtPair();
    const { kid } = decodeProtectedHeader(pair.accessToken);
    expect(reply.body.keys.map((key: { kid: string }) => key.kid)).toContain(kid);
    for (const key of reply.body.keys) {
      expect(typeof key.kid).toBe("string");
      for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k", "oth"])
        expect(key).not.toHaveProperty(secret);
    }
  });

  it("GET /healthz → 200 {status: ok}", async () => {
    const reply = await api("GET", "/healthz");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: "ok" });
  });

  it("GET /healthz → 503 when the store is unreachable", async () => {
    const down = tempDir("tessera-contract-down-");
    const other = await startServer(testConfig(down.path), { print: () => undefined });
    try {
      await other.store.close();
      const reply = await fetch(`${other.urls.http}/healthz`);
      expect(reply.status).toBe(503);
      // Shaped like every error, too.
      expect(await reply.json()).toMatchObject({
        error: { code: "unavailable", message: expect.any(String) },
      });
    } finally {
      await other.close().catch(() => undefined);
      down.remove();
    }
  });

  it("GET /metrics → Prometheus text format", async () => {
    const reply = await api("GET", "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(reply.text).toMatch(/^# HELP \S+ /m);
    expect(reply.text).toMatch(/^# TYPE \S+ (counter|gauge|histogram|summary)$/m);
  });
});

describe("HTTP API: links", () => {
  async function issue(token: string, body: Record<string, unknown> = {}) {
    const reply = await api("POST", "/auth/links", { token, json: body });
    expect(reply.status).toBe(201);
    return reply.body as { url: string; expiresAt: string };
  }

  it("POST /auth/links → 201 {url, expiresAt}: a single-use URL on this server, 10 minutes by default", async () => {
    const pair = await sessionPair();
    const before = clock();
    const link = await issue(pair.accessToken);
    expect(new URL(link.url).origin).toBe(server.urls.http);
    expect(new URL(link.url).pathname).toMatch(/^\/auth\/links\/tsl_/);
    expect(link.expiresAt).toMatch(ISO_UTC);
    expect(Date.parse(link.expiresAt) - before).toBeGreaterThan(10 * MINUTE - 2000);
    expect(Date.parse(link.expiresAt) - before).toBeLessThanOrEqual(10 * MINUTE + 2000);
    const short = await issue(pair.accessToken, { ttlSeconds: 60 });
    expect(Date.parse(short.expiresAt) - before).toBeLessThanOrEqual(MINUTE + 2000);
  });

  it("first GET: a new session carrying data, 302 to redirectTo with Set-Cookie; any later use 410 link_used", async () => {
    const pair = await sessionPair();
    const link = await issue(pair.accessToken, { data: { invite: "room-7" }, redirectTo: "/welcome" });
    const first = await api("GET", link.url);
    expect(first.status).toBe(302);
    expect(first.headers.get("location")).toBe("/welcome");
    const cookie = cookieOf(first) ?? "";
    const token = /^tessera_session=([^;]+)/.exec(cookie)?.[1] ?? "";
    expect(token).toMatch(opaque("tss_"));
    expect(cookie).toMatch(/HttpOnly/i);
    const { body } = await api("GET", "/auth/session", { headers: { cookie: `tessera_session=${token}` } });
    expect(body.session.data).toEqual({ invite: "room-7" });
    expect(body.session.userId).toBe(pair.user.id);
    expect(body.session.id).not.toBe(pair.sessionId);

    expectError(await api("GET", link.url), 410, "link_used");
    expectError(await api("GET", link.url, { headers: { accept: "application/json" } }), 410, "link_used");
  });

  it("redirectTo may be a URL on a configured allowed origin, not elsewhere", async () => {
    const pair = await sessionPair();
    const link = await issue(pair.accessToken, { redirectTo: `${ALLOWED_ORIGIN}/home` });
    const reply = await api("GET", link.url);
    expect(reply.status).toBe(302);
    expect(reply.headers.get("location")).toBe(`${ALLOWED_ORIGIN}/home`);
    expectError(
      await api("POST", "/auth/links", {
        token: pair.accessToken,
        json: { redirectTo: "https://evil.example/" },
      }),
      400,
      "invalid_request",
    );
  });

  it("with Accept: application/json: 200 token pair plus {session}", async () => {
    const pair = await sessionPair();
    const link = await issue(pair.accessToken, { data: [1, 2, 3] });
    const reply = await api("GET", link.url, { headers: { accept: "application/json" } });
    expect(reply.status).toBe(200);
    expectTokenPair(reply.body, "session");
    expect(reply.body.session).toMatchObject({
      id: reply.body.sessionId,
      data: [1, 2, 3],
      userId: pair.user.id,
    });
    expect(await standing(reply.body.accessToken)).toBe(200);
  });

  it("after expiry: 410 link_expired", async () => {
    const pair = await sessionPair();
    const link = await issue(pair.accessToken);
    advance(10 * MINUTE + 1000);
    expectError(await api("GET", link.url), 410, "link_expired");
    expectError(await api("GET", link.url, { headers: { accept: "application/json" } }), 410, "link_expired");
  });
});

// ---------------------------------------------------------------------------------------
// Socket protocol
// ---------------------------------------------------------------------------------------

type Transport = "websocket" | "tcp";
const TRANSPORTS: Transport[] = ["websocket", "tcp"];

function open(transport: Transport, headers?: Record<string, string>): Promise<TestClient> {
  return transport === "websocket" ? openWebSocket(server.urls.ws, headers) : openTcp(tcpPort());
}

/** Waits for the close; fails after a generous 10 s rather than hanging. */
function closeOf(client: TestClient): Promise<Closed> {
  return Promise.race([
    client.closed,
    new Promise<Closed>((_resolve, reject) =>
      setTimeout(() => reject(new Error("the server did not close the connection")), 10_000).unref(),
    ),
  ]);
}

/**
 * How a connection ended because of `code`: WebSocket close `wsCode` with the code as
 * reason; on TCP an `error` frame with the code, then the end of the connection.
 */
async function expectEnded(client: TestClient, transport: Transport, wsCode: number, code: string) {
  const closed = await closeOf(client);
  if (transport === "websocket") {
    expect({ code: closed.code, reason: closed.reason }).toEqual({ code: wsCode, reason: code });
  } else {
    const last = client.received.at(-1);
    expect(last).toMatchObject({ type: "error", code, message: expect.any(String) });
  }
}

async function authenticated(
  transport: Transport,
  pair?: Pair,
): Promise<{ client: TestClient; ready: Frame; pair: Pair }> {
  const session = pair ?? (await sessionPair());
  const client = await open(transport);
  client.send({ type: "auth", token: session.accessToken });
  const ready = await client.next();
  expect(ready).toMatchObject({ type: "ready" });
  return { client, ready, pair: session };
}

describe("Socket protocol: connecting", () => {
  it("WebSocket at GET /ws on the HTTP port; TCP on its own port", () => {
    expect(server.urls.ws).toBe(`${server.urls.http.replace(/^http/, "ws")}/ws`);
    expect(tcpPort()).not.toBe(Number(new URL(server.urls.http).port));
  });

  it("WebSocket only: Authorization: Bearer <session token> on the upgrade request", async () => {
    const pair = await sessionPair();
    const client = await openWebSocket(server.urls.ws, { authorization: `Bearer ${pair.accessToken}` });
    expect(await client.next()).toEqual({
      type: "ready",
      sessionId: pair.sessionId,
      userId: pair.user.id,
      expiresAt: pair.refreshExpiration,
    });
    client.close();
  });

  it.each(
    TRANSPORTS,
  )("%s: a first frame {type: auth, token} → {type: ready, sessionId, userId, expiresAt}", async (transport) => {
    const pair = await sessionPair();
    const { client, ready } = await authenticated(transport, pair);
    expect(ready).toEqual({
      type: "ready",
      sessionId: pair.sessionId,
      userId: pair.user.id,
      expiresAt: pair.refreshExpiration,
    });
    expect(ready.expiresAt).toMatch(ISO_UTC);
    client.close();
  });

  it.each(
    TRANSPORTS,
  )("%s: a first frame {type: auth, refreshToken}: the token is spent, tokens comes before ready", async (transport) => {
    const pair = await sessionPair();
    const client = await open(transport);
    client.send({ type: "auth", refreshToken: pair.refreshToken });
    const tokens = await client.next();
    expect(tokens.type).toBe("tokens");
    expectTokenPair(tokens, "session");
    expect(tokens.sessionId).toBe(pair.sessionId);
    expect(tokens.refreshToken).not.toBe(pair.refreshToken);
    expect(await client.next()).toMatchObject({ type: "ready", sessionId: pair.sessionId });
    expect(await standing(String(tokens.accessToken))).toBe(200);
    client.close();
  });

  it.each(TRANSPORTS)("%s: an access JWT is refused with token_invalid (4401)", async (transport) => {
    const jwt = await jwtPair();
    const client = await open(transport);
    client.send({ type: "auth", token: jwt.accessToken });
    await expectEnded(client, transport, 4401, "token_invalid");
  });

  it("an access JWT in the WebSocket upgrade's Authorization header is refused with token_invalid (4401)", async () => {
    const jwt = await jwtPair();
    const client = await openWebSocket(server.urls.ws, { authorization: `Bearer ${jwt.accessToken}` });
    await expectEnded(client, "websocket", 4401, "token_invalid");
  });

  it.each(
    TRANSPORTS,
  )("%s: failed authentication closes with 4401 and the code: token_invalid, token_revoked (token_expired: last section)", async (transport) => {
    const unknown = await open(transport);
    unknown.send({ type: "auth", token: await neverIssuedSessionToken() });
    await expectEnded(unknown, transport, 4401, "token_invalid");

    const ended = await sessionPair();
    await api("POST", "/auth/logout", { token: ended.accessToken });
    const revoked = await open(transport);
    revoked.send({ type: "auth", token: ended.accessToken });
    await expectEnded(revoked, transport, 4401, "token_revoked");
  });
});

describe("Socket protocol: frames", () => {
  it.each(TRANSPORTS)("%s: {type: ping} → {type: pong}", async (transport) => {
    const { client } = await authenticated(transport);
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
    client.close();
  });

  it.each(
    TRANSPORTS,
  )("%s: {type: refresh, refreshToken} → {type: tokens, …token pair}", async (transport) => {
    const { client, pair } = await authenticated(transport);
    client.send({ type: "refresh", refreshToken: pair.refreshToken });
    const tokens = await client.next();
    expect(tokens.type).toBe("tokens");
    expectTokenPair(tokens, "session");
    expect(tokens.sessionId).toBe(pair.sessionId);
    expect(tokens.refreshToken).not.toBe(pair.refreshToken);
    client.close();
  });

  it.each(
    TRANSPORTS,
  )("%s: {type: message, gate, id, data} → {type: reply, id, data} from the gate's handler", async (transport) => {
    const { client, pair } = await authenticated(transport);
    client.send({ type: "message", gate: "echo", id: "m-1", data: { hello: ["world"] } });
    expect(await client.next()).toEqual({
      type: "reply",
      id: "m-1",
      data: { echoed: { hello: ["world"] }, userId: pair.user.id, sessionId: pair.sessionId },
    });
    client.close();
  });

  it.each(
    TRANSPORTS,
  )("%s: an unknown gate answers an error frame with not_found and keeps the socket", async (transport) => {
    const { client } = await authenticated(transport);
    client.send({ type: "message", gate: "no-such-gate", id: "m-2", data: null });
    expect(await client.next()).toEqual({
      type: "error",
      code: "not_found",
      message: expect.any(String),
      id: "m-2",
    });
    client.send({ type: "ping" });
    expect(await client.next()).toEqual({ type: "pong" });
    client.close();
  });

  it.each(
    TRANSPORTS,
  )("%s: a malformed frame ends the connection: 4400 invalid_request", async (transport) => {
    const { client } = await authenticated(transport);
    client.sendRaw(transport === "websocket" ? "{not json" : "{not json\n");
    await expectEnded(client, transport, 4400, "invalid_request");
  });

  /** A `message` frame to the echo gate whose serialised form is exactly `bytes` long. */
  function frameOfSize(bytes: number): string {
    const empty = JSON.stringify({ type: "message", gate: "echo", id: "big", data: "" });
    return JSON.stringify({
      type: "message",
      gate: "echo",
      id: "big",
      data: "z".repeat(bytes - empty.length),
    });
  }

  it.each(TRANSPORTS)("%s: a frame of 64 KiB is accepted", async (transport) => {
    const { client } = await authenticated(transport);
    const frame = frameOfSize(64 * 1024);
    expect(Buffer.byteLength(frame)).toBe(65536);
    client.sendRaw(transport === "websocket" ? frame : `${frame}\n`);
    expect(await client.next()).toMatchObject({ type: "reply", id: "big" });
    client.close();
  });

  it("WebSocket: an oversized frame closes with 1009", async () => {
    const { client } = await authenticated("websocket");
    client.sendRaw(frameOfSize(64 * 1024 + 1));
    expect((await closeOf(client)).code).toBe(1009);
  });

  it("TCP: a line over 64 KiB ends the connection after an error frame (payload_too_large)", async () => {
    const { client } = await authenticated("tcp");
    client.sendRaw(`${frameOfSize(64 * 1024 + 1)}\n`);
    await expectEnded(client, "tcp", 1009, "payload_too_large");
  });
});

describe("Socket protocol: the session ends while connected", () => {
  /** A session on device "the-device", upgraded: a socket credential. */
  async function onDevice(): Promise<Pair> {
    const jwt = await jwtPair({ deviceId: "the-device" });
    return (await api("POST", "/auth/upgrade", { token: jwt.accessToken })).body;
  }

  const endings: [string, (pair: Pair) => Promise<unknown>][] = [
    ["logout", (pair) => api("POST", "/auth/logout", { token: pair.accessToken })],
    ["logout-all", (pair) => api("POST", "/auth/logout-all", { token: pair.accessToken })],
    [
      "revocation",
      async (pair) => {
        const other = await login(pair.user.username);
        return api("DELETE", `/auth/sessions/${pair.sessionId}`, { token: other.accessToken });
      },
    ],
    [
      "refresh-token reuse",
      async (pair) => {
        const next = await api("POST", "/auth/refresh", { json: { refreshToken: pair.refreshToken } });
        await api("POST", "/auth/refresh", { json: { refreshToken: next.body.refreshToken } });
        return api("POST", "/auth/refresh", { json: { refreshToken: pair.refreshToken } });
      },
    ],
    ["device takeover", (pair) => login(pair.user.username, { deviceId: "the-device" })],
  ];

  it.each(
    endings,
  )("%s closes the session's sockets: 4401 token_revoked (WebSocket), error frame then end (TCP)", async (_name, end) => {
    const pair = await onDevice();
    const ws = (await authenticated("websocket", pair)).client;
    const tcp = (await authenticated("tcp", pair)).client;
    await end(pair);
    await expectEnded(ws, "websocket", 4401, "token_revoked");
    await expectEnded(tcp, "tcp", 4401, "token_revoked");
  });
});

// ---------------------------------------------------------------------------------------
// gRPC
// ---------------------------------------------------------------------------------------

type Unary = (
  request: object,
  metadata: Metadata,
  callback: (error: ServiceError | null, response?: Record<string, unknown>) => void,
) => void;
interface SessionServiceClient {
  CreateSession: Unary;
  ReissueSession: Unary;
  DestroySession: Unary;
  close(): void;
}

const PROTO = join(import.meta.dirname, "..", "proto", "tessera", "v1", "session_service.proto");
// What an outside client does: the .proto, field names as written, 64-bit integers as strings.
const definition = loadSync(PROTO, { keepCase: true, longs: String, defaults: true });

describe("gRPC", () => {
  let client: SessionServiceClient;

  beforeAll(() => {
    const pkg = loadPackageDefinition(definition) as unknown as {
      tessera: { v1: { SessionService: new (target: string, creds: unknown) => SessionServiceClient } };
    };
    client = new pkg.tessera.v1.SessionService(server.urls.grpc ?? "", credentials.createInsecure());
  });
  afterAll(() => client?.close());

  function call(
    method: "CreateSession" | "ReissueSession" | "DestroySession",
    request: object,
    token?: string,
  ) {
    const metadata = new Metadata();
    if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      client[method](request, metadata, (error, response) =>
        error ? reject(error) : resolve(response ?? {}),
      );
    });
  }

  async function grpcStatus(promise: Promise<unknown>): Promise<number> {
    try {
      await promise;
    } catch (error) {
      return (error as ServiceError).code;
    }
    throw new Error("expected the call to fail");
  }

  async function create(username: string, device = randomUUID()) {
    return call("CreateSession", { username, password: PASSWORD, device_uuid: device });
  }

  it("tessera.v1.SessionService: messages as in seed 004, field numbers and types kept", () => {
    const fields = (message: string) =>
      (
        definition[`tessera.v1.${message}`] as unknown as {
          type: { field: { name: string; number: number; type: string }[] };
        }
      ).type.field.map((f) => `${f.number} ${f.type.replace("TYPE_", "").toLowerCase()} ${f.name}`);
    const response = [
      "1 string auth_token",
      "2 string reissue_token",
      "3 uint32 exp",
      "4 uint64 user_id",
      "5 string username",
      "6 string user_uuid",
    ];
    expect(fields("CreateSessionRequest")).toEqual([
      "1 string username",
      "2 string password",
      "3 string device_uuid",
    ]);
    expect(fields("CreateSessionResponse")).toEqual(response);
    expect(fields("ReissueSessionRequest")).toEqual(["1 string reissue_token"]);
    expect(fields("ReissueSessionResponse")).toEqual(response);
    expect(fields("DestroySessionRequest")).toEqual([]);
    expect(fields("DestroySessionResponse")).toEqual([]);
  });

  it("CreateSession → auth_token (a session token), reissue_token (a refresh token), exp (unix seconds), user_id, username, user_uuid", async () => {
    const { username, user } = await register();
    const before = Math.floor(clock() / 1000);
    const created = await create(username);
    expect(created).toEqual({
      auth_token: expect.stringMatching(opaque("tss_")),
      reissue_token: expect.stringMatching(opaque("tsr_")),
      exp: expect.any(Number),
      user_id: String(user.id),
      username,
      user_uuid: user.uuid,
    });
    const exp = Number(created.exp);
    expect(exp).toBeGreaterThanOrEqual(before + 14 * 86_400 - 2);
    expect(exp).toBeLessThanOrEqual(before + 14 * 86_400 + 2);
  });

  it("device_uuid is required: INVALID_ARGUMENT; so are username and password", async () => {
    const { username } = await register();
    expect(await grpcStatus(call("CreateSession", { username, password: PASSWORD }))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(await grpcStatus(call("CreateSession", { password: PASSWORD, device_uuid: "d" }))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(await grpcStatus(call("ReissueSession", {}))).toBe(status.INVALID_ARGUMENT);
  });

  it("a request that is not a CreateSessionRequest at all: INVALID_ARGUMENT", async () => {
    const raw = new Client(server.urls.grpc ?? "", credentials.createInsecure());
    try {
      const undecodable = new Promise<unknown>((resolve, reject) => {
        raw.makeUnaryRequest(
          "/tessera.v1.SessionService/CreateSession",
          (bytes: Buffer) => bytes,
          (bytes: Buffer) => bytes,
          Buffer.from([0xff, 0xff, 0xff]),
          new Metadata(),
          {},
          (error, response) => (error ? reject(error) : resolve(response)),
        );
      });
      expect(await grpcStatus(undecodable)).toBe(status.INVALID_ARGUMENT);
    } finally {
      raw.close();
    }
  });

  it("bad credentials or tokens: UNAUTHENTICATED", async () => {
    const { username } = await register();
    expect(
      await grpcStatus(call("CreateSession", { username, password: "wrong", device_uuid: randomUUID() })),
    ).toBe(status.UNAUTHENTICATED);
    expect(await grpcStatus(call("ReissueSession", { reissue_token: "tsr_nonsense" }))).toBe(
      status.UNAUTHENTICATED,
    );
    expect(await grpcStatus(call("DestroySession", {}, await neverIssuedSessionToken()))).toBe(
      status.UNAUTHENTICATED,
    );
    expect(await grpcStatus(call("DestroySession", {}))).toBe(status.UNAUTHENTICATED);
  });

  it("a second CreateSession with the same user and device_uuid ends the first session", async () => {
    const { username } = await register();
    const device = randomUUID();
    const first = await create(username, device);
    const elsewhere = await create(username);
    const second = await create(username, device);
    expect(await standing(String(first.auth_token))).toBe("token_revoked");
    expect(await grpcStatus(call("DestroySession", {}, String(first.auth_token)))).toBe(
      status.UNAUTHENTICATED,
    );
    expect(await standing(String(second.auth_token))).toBe(200);
    expect(await standing(String(elsewhere.auth_token))).toBe(200);
  });

  it("ReissueSession: validity extended by the full lifetime, both tokens new", async () => {
    const { username } = await register();
    const created = await create(username);
    advance(DAY);
    const reissued = await call("ReissueSession", { reissue_token: created.reissue_token });
    expect(reissued.auth_token).toMatch(opaque("tss_"));
    expect(reissued.reissue_token).toMatch(opaque("tsr_"));
    expect(reissued.auth_token).not.toBe(created.auth_token);
    expect(reissued.reissue_token).not.toBe(created.reissue_token);
    expect(Number(reissued.exp) - Number(created.exp)).toBeGreaterThanOrEqual(86_400 - 2);
    expect(Number(reissued.exp)).toBeGreaterThanOrEqual(Math.floor(clock() / 1000) + 14 * 86_400 - 2);
    expect({ ...reissued, auth_token: "", reissue_token: "", exp: 0 }).toEqual({
      ...created,
      auth_token: "",
      reissue_token: "",
      exp: 0,
    });
    expect(await standing(String(reissued.auth_token))).toBe(200);
  });

  it("the spent reissue token, shown again, revokes the session (once its successor was used, or after the grace window)", async () => {
    const { username } = await register();
    const created = await create(username);
    const next = await call("ReissueSession", { reissue_token: created.reissue_token });
    await call("ReissueSession", { reissue_token: next.reissue_token });
    expect(await grpcStatus(call("ReissueSession", { reissue_token: created.reissue_token }))).toBe(
      status.UNAUTHENTICATED,
    );
    expect(await grpcStatus(call("DestroySession", {}, String(next.auth_token)))).toBe(
      status.UNAUTHENTICATED,
    );

    const other = await create(username);
    const successor = await call("ReissueSession", { reissue_token: other.reissue_token });
    advance(11_000);
    expect(await grpcStatus(call("ReissueSession", { reissue_token: other.reissue_token }))).toBe(
      status.UNAUTHENTICATED,
    );
    expect(await standing(String(successor.auth_token))).toBe("token_revoked");
  });

  it("DestroySession with authorization: Bearer <auth_token> → {}; the auth token is refused from then on", async () => {
    const { username } = await register();
    const created = await create(username);
    expect(await call("DestroySession", {}, String(created.auth_token))).toEqual({});
    expect(await grpcStatus(call("DestroySession", {}, String(created.auth_token)))).toBe(
      status.UNAUTHENTICATED,
    );
    expect(await standing(String(created.auth_token))).toBe("token_revoked");
    expect(await grpcStatus(call("ReissueSession", { reissue_token: created.reissue_token }))).toBe(
      status.UNAUTHENTICATED,
    );
  });

  describe("one session on all three surfaces", () => {
    it("a token from gRPC works on HTTP and on sockets", async () => {
      const { username, user } = await register();
      const created = await create(username);
      const token = String(created.auth_token);
      const session = await api("GET", "/auth/session", { token });
      expect(session.status).toBe(200);
      expect(session.body.session.userId).toBe(user.id);
      for (const transport of TRANSPORTS) {
        const { client, ready } = await authenticated(transport, { accessToken: token } as Pair);
        expect(ready).toMatchObject({ sessionId: session.body.session.id, userId: user.id });
        client.close();
      }
      // The reissue token refreshes over HTTP too.
      const refreshed = await api("POST", "/auth/refresh", { json: { refreshToken: created.reissue_token } });
      expect(refreshed.status).toBe(200);
      expectTokenPair(refreshed.body, "session");
      expect(refreshed.body.sessionId).toBe(session.body.session.id);
    });

    it("and the other way round: HTTP tokens work on gRPC, which ends the session everywhere", async () => {
      const pair = await sessionPair();
      const reissued = await call("ReissueSession", { reissue_token: pair.refreshToken });
      expect(reissued.user_uuid).toBe(pair.user.uuid);
      const token = String(reissued.auth_token);
      const { client: ws } = await authenticated("websocket", { accessToken: token } as Pair);
      expect(await call("DestroySession", {}, token)).toEqual({});
      await expectEnded(ws, "websocket", 4401, "token_revoked");
      expect(await standing(token)).toBe("token_revoked");

      const jwt = await jwtPair();
      expect(await call("DestroySession", {}, jwt.accessToken)).toEqual({});
      expect(await standing(jwt.accessToken)).toBe("token_revoked");
    });
  });
});

// ---------------------------------------------------------------------------------------
// Last: expiry of the session itself (moves the clock by two weeks)
// ---------------------------------------------------------------------------------------

describe("Token kinds: the session lifetime", () => {
  it("a session token and its refresh token expire with the session: token_expired, on HTTP and on sockets", async () => {
    const pair = await sessionPair();
    advance(14 * DAY + MINUTE);
    expectError(await api("GET", "/auth/session", { token: pair.accessToken }), 401, "token_expired");
    expectError(
      await api("POST", "/auth/refresh", { json: { refreshToken: pair.refreshToken } }),
      401,
      "token_expired",
    );
    for (const transport of TRANSPORTS) {
      const client = await open(transport);
      client.send({ type: "auth", token: pair.accessToken });
      await expectEnded(client, transport, 4401, "token_expired");
    }
  });
});

// ---------------------------------------------------------------------------------------
// Last: the socket authentication deadline (the sockets opened when the server started)
// ---------------------------------------------------------------------------------------

describe("Socket protocol: authentication within 5 s of connecting", () => {
  it("no authentication in time: 4401 auth_timeout (WebSocket); error frame auth_timeout, then the end (TCP)", async () => {
    // Both sockets were opened right after the server started and have sent nothing since;
    // checked last so that the rest of the file runs while the deadline approaches.
    await expectEnded(silent.ws, "websocket", 4401, "auth_timeout");
    await expectEnded(silent.tcp, "tcp", 4401, "auth_timeout");
  });
});

/**
 * A session token of the right form and checksum that the server never issued. The contract
 * leaves the checksum open, so this one helper borrows the server's token generator.
 */
async function neverIssuedSessionToken(): Promise<string> {
  const { generateOpaqueToken } = await import("../src/tokens/opaque.js");
  return generateOpaqueToken("session");
}
