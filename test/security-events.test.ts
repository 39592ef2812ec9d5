/**
 * The security log through `tessera serve` (contract "Account and session policy": `GET
 * /auth/events`, `tessera events`): real ports, the SQLite store, HTTP, WebSocket and gRPC
 * logins on one engine, the CLI reading the same database while the server runs.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "./cli-kit.js";
import { call, failureOf, type SessionClient, sessionClient } from "./grpc-kit.js";
import { startTestServer } from "./server-kit.js";
import { openWebSocket } from "./socket-kit.js";

type Running = Awaited<ReturnType<typeof startTestServer>>;

const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

let server: Running;
let grpc: SessionClient;

beforeAll(async () => {
  server = await startTestServer();
  if (server.grpc === null) throw new Error("tessera serve started without gRPC");
  grpc = sessionClient(server.grpc.port);
});

afterAll(async () => {
  grpc?.close();
  await server?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function http(
  method: string,
  path: string,
  options: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(`${server.urls.http}${path}`, {
    method,
    headers: {
      "user-agent": FIREFOX,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text === "" ? null : JSON.parse(text)) as Record<string, unknown>,
  };
}

interface EventBody {
  id: string;
  at: string;
  kind: string;
  userId: number | null;
  sessionId: string | null;
  surface: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  detail: Record<string, unknown>;
}

async function newUser(): Promise<{ username: string; id: number }> {
  const username = `ev-${Math.random().toString(36).slice(2, 10)}`;
  const registered = await http("POST", "/auth/register", { json: { username, password: "secret123" } });
  expect(registered.status).toBe(201);
  return { username, id: (registered.body.user as { id: number }).id };
}

async function login(username: string, password = "secret123"): Promise<Answer> {
  return http("POST", "/auth/login", { json: { username, password } });
}

/** The caller's events once everything recorded so far is written. */
async function events(token: string, query = ""): Promise<Answer & { events: EventBody[] }> {
  await server.tessera.securityEventsSettled();
  const answer = await http("GET", `/auth/events${query}`, { token });
  return { ...answer, events: (answer.body?.events ?? []) as EventBody[] };
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("GET /auth/events", () => {
  it("shows the signed-in user their own events, newest first, and nobody else's", async () => {
    const ada = await newUser();
    const bob = await newUser();
    expect((await login(ada.username, "not-the-password")).status).toBe(401);
    const pair = await login(ada.username);
    const bobPair = await login(bob.username);
    const token = pair.body.accessToken as string;

    const mine = await events(token);
    expect(mine.status).toBe(200);
    expect(mine.events.map((event) => event.kind)).toEqual([
      "session_created",
      "login_succeeded",
      "login_failed",
    ]);
    expect(mine.events.every((event) => event.userId === ada.id)).toBe(true);
    expect(mine.events[1]).toMatchObject({
      sessionId: pair.body.sessionId,
      surface: "http",
      ipAddress: expect.stringMatching(/127\.0\.0\.1/),
      userAgent: FIREFOX,
      detail: { provider: "password", deviceLabel: "Firefox on Linux" },
    });
    expect(mine.body.next).toBeUndefined();
    expect(JSON.stringify(mine.body)).not.toContain("not-the-password");

    const theirs = await events(bobPair.body.accessToken as string);
    expect(theirs.events.every((event) => event.userId === bob.id)).toBe(true);
    expect(theirs.events.some((event) => mine.events.some((m) => m.id === event.id))).toBe(false);
    // Another user's cursor moves the window over one's own events, never onto theirs.
    const crossed = await events(bobPair.body.accessToken as string, `?before=${mine.events[2]?.id}`);
    expect(crossed.events.every((event) => event.userId === bob.id)).toBe(true);
  });

  it("pages with limit and before, and filters by kind", async () => {
    const user = await newUser();
    for (let i = 0; i < 3; i++) expect((await login(user.username)).status).toBe(200);
    const token = (await login(user.username)).body.accessToken as string;
    const first = await events(token, "?limit=3");
    expect(first.events).toHaveLength(3);
    expect(first.body.next).toBe(first.events[2]?.id);
    const second = await events(token, `?limit=3&before=${first.body.next}`);
    expect(second.events).toHaveLength(3);
    expect((second.events[0]?.id ?? "") < (first.events[2]?.id ?? "")).toBe(true);
    const rest = await events(token, `?limit=200&before=${second.body.next}`);
    expect(rest.events).toHaveLength(2);
    expect(rest.body.next).toBeUndefined();
    const logins = await events(token, "?kind=login_succeeded");
    expect(logins.events.map((event) => event.kind)).toEqual(Array(4).fill("login_succeeded"));
  });

  it("works with the session cookie too, and lists logout and revocations with their reasons", async () => {
    const user = await newUser();
    const other = await login(user.username);
    const pair = await login(user.username);
    const upgraded = await http("POST", "/auth/upgrade", { token: pair.body.accessToken as string });
    const cookie = (upgraded.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(cookie).toMatch(/^tessera_session=tss_/);
    const token = upgraded.body.accessToken as string;
    const removed = await http("DELETE", `/auth/sessions/${other.body.sessionId}`, { token });
    expect(removed.status).toBe(204);
    await server.tessera.securityEventsSettled();
    const byCookie = await http("GET", "/auth/events?kind=session_revoked,session_upgraded", {
      headers: { cookie },
    });
    expect(byCookie.status).toBe(200);
    const listed = byCookie.body.events as EventBody[];
    expect(listed.map((event) => [event.kind, event.sessionId, event.detail.reason ?? null])).toEqual([
      ["session_revoked", other.body.sessionId, "revoked"],
      ["session_upgraded", pair.body.sessionId, null],
    ]);
  });

  it("refuses bad queries with invalid_request and a missing credential with 401", async () => {
    const user = await newUser();
    const token = (await login(user.username)).body.accessToken as string;
    for (const query of [
      "?limit=0",
      "?limit=201",
      "?limit=ten",
      "?limit=-1",
      "?before=%27%20OR%201%3D1",
      "?kind=password_guessed",
      "?kind=",
      "?userId=1",
      "?limit=1&limit=2",
    ]) {
      const answer = await http("GET", `/auth/events${query}`, { token });
      expect([query, answer.status]).toEqual([query, 400]);
      expect(answer.body).toMatchObject({ error: { code: "invalid_request", message: expect.any(String) } });
    }
    const anonymous = await http("GET", "/auth/events");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ error: { code: "token_invalid" } });
  });
});

describe("events from every surface", () => {
  it("gRPC and WebSocket logins are recorded with their surface and counted in /metrics", async () => {
    const user = await newUser();
    const before = await (await fetch(`${server.urls.http}/metrics`)).text();

    const created = await call(grpc, "CreateSession", {
      username: user.username,
      password: "secret123",
      device_uuid: "svc-9",
    });
    await call(grpc, "GetSession", { token: created.auth_token });
    const refused = await failureOf(
      call(grpc, "CreateSession", { username: user.username, password: "wrong-one", device_uuid: "svc-9" }),
    );
    expect(refused.code).toBe("invalid_credentials");
    expect((await failureOf(call(grpc, "GetSession", { token: "tss_nonsense" }))).code).toBe("token_invalid");

    const socket = await openWebSocket(server.urls.ws, { "user-agent": FIREFOX });
    socket.send({ type: "auth", provider: "password", username: user.username, password: "secret123" });
    expect((await socket.next()).type).toBe("tokens");
    expect((await socket.next()).type).toBe("ready");
    socket.close();

    await server.tessera.securityEventsSettled();
    const page = await server.tessera.listSecurityEvents({
      userId: user.id,
      kinds: ["login_succeeded", "login_failed"],
    });
    expect(page.events.map((event) => [event.kind, event.surface])).toEqual([
      ["login_succeeded", "socket"],
      ["login_failed", "grpc"],
      ["login_succeeded", "grpc"],
    ]);
    // grpc-js sends its own agent.
    expect(page.events[2]?.userAgent).toMatch(/^grpc-node-js\//);

    const after = await (await fetch(`${server.urls.http}/metrics`)).text();
    const grew = (name: string, labels: string) => metric(after, name, labels) - metric(before, name, labels);
    expect(grew("tessera_security_events_total", 'kind="login_succeeded"')).toBeGreaterThanOrEqual(2);
    expect(grew("tessera_security_events_total", 'kind="login_failed"')).toBeGreaterThanOrEqual(1);
    expect(grew("tessera_security_events_total", 'kind="session_created"')).toBeGreaterThanOrEqual(2);
    expect(grew("tessera_validations_total", 'result="ok"')).toBeGreaterThanOrEqual(1);
    expect(grew("tessera_validations_total", 'result="token_invalid"')).toBeGreaterThanOrEqual(1);
    expect(grew("tessera_login_failures_total", 'code="invalid_credentials"')).toBeGreaterThanOrEqual(1);
  });
});

describe("tessera events", () => {
  it("prints the log as JSON lines, filtered by user, kind and time, while the server runs", async () => {
    const user = await newUser();
    const started = new Date().toISOString();
    expect((await login(user.username, "nope-nope")).status).toBe(401);
    expect((await login(user.username)).status).toBe(200);
    await server.tessera.securityEventsSettled();

    const store = ["--data-dir", server.dataDir];
    const run = await cli([
      "events",
      ...store,
      "--user",
      user.username,
      "--kind",
      "login_succeeded,login_failed",
    ]);
    expect(run).toMatchObject({ code: 0, err: "" });
    const lines = run.out
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as EventBody);
    expect(lines.map((event) => event.kind)).toEqual(["login_succeeded", "login_failed"]);
    expect(lines.every((event) => event.userId === user.id && event.surface === "http")).toBe(true);

    const limited = await cli(["events", ...store, "--user", user.username, "--limit", "1"]);
    expect(limited.out.trim().split("\n")).toHaveLength(1);
    const later = await cli(["events", ...store, "--since", new Date(Date.now() + 60_000).toISOString()]);
    expect(later).toMatchObject({ code: 0, out: "" });
    const since = await cli(["events", ...store, "--since", started, "--user", user.username]);
    expect(since.out.trim().split("\n").length).toBeGreaterThanOrEqual(3);
  });

  it("refuses unknown kinds, bad times and unknown users", async () => {
    const store = ["--data-dir", server.dataDir];
    const kind = await cli(["events", ...store, "--kind", "login_succeeded,coffee_made"]);
    expect(kind.code).toBe(2);
    expect(kind.err).toContain("coffee_made");
    expect((await cli(["events", ...store, "--since", "yesterday"])).code).toBe(2);
    expect((await cli(["events", ...store, "--limit", "0"])).code).toBe(2);
    const nobody = await cli(["events", ...store, "--user", "no-such-user-here"]);
    expect(nobody).toMatchObject({ code: 1, err: expect.stringContaining("No user named") });
  });
});

describe("the README's Security events example", () => {
  it("runs as printed against a running server's data directory", { timeout: 60_000 }, async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const start = readme.indexOf("\n## Security events");
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const expected = script
      .split("\n")
      .filter((line) => line.startsWith("# → "))
      .map((line) => line.slice("# → ".length));
    expect(expected).toHaveLength(2);

    const registered = await http("POST", "/auth/register", {
      json: { username: "hero", password: "secret123" },
    });
    expect(registered.status).toBe(201);
    expect((await login("hero", "wrong-password")).status).toBe(401);
    expect((await login("hero")).status).toBe(200);
    await server.tessera.securityEventsSettled();

    // `npx tessera` in the repository runs bin/tessera.js; npx's own start-up (seconds on a
    // busy machine) is left out.
    const command = script.replaceAll("npx tessera ", "node bin/tessera.js ");
    const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", command], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { ...process.env, TESSERA_DATA_DIR: server.dataDir },
    });
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => {
      const parts = (expected[i] ?? "").split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      expect(line).toMatch(new RegExp(`^${parts.join(".*")}$`));
    });
  });
});
