/**
 * Disabling, enabling and deleting a user from the CLI while `tessera serve` runs, over
 * real ports with real clients (fetch, ws, net, @grpc/grpc-js): every session and socket of
 * the user ends at once — the CLI is another engine on the same database, so the server
 * hears of it through the store's event feed — and a disabled user's logins are refused
 * with `invalid_credentials` on every surface, a link issued before included.
 */
import { Readable, Writable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/program.js";
import { cli } from "./cli-kit.js";
import { bearer, call, failureOf, type SessionClient, sessionClient } from "./grpc-kit.js";
import { FAST_PASSWORDS } from "./kit.js";
import { startTestServer } from "./server-kit.js";
import { closeOf, openTcp, openWebSocket, type TestClient } from "./socket-kit.js";

type Running = Awaited<ReturnType<typeof startTestServer>>;
type Body = Record<string, unknown> & { error: { code: string; message: string } };

async function http(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; accept?: string } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    redirect: "manual",
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.json === undefined ? {} : { "content-type": "application/json" }),
      ...(options.accept === undefined ? {} : { accept: options.accept }),
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as Body };
}

let server: Running;
let grpc: SessionClient;
let env: Record<string, string>;
let tcpPort: number;

beforeAll(async () => {
  // A disabled user's login counts as a failed one (it must look like a wrong password), so
  // the login throttle is raised here for every surface to be asked in turn.
  server = await startTestServer({
    engine: { passwords: FAST_PASSWORDS, loginThrottle: { maxFailuresPerUser: 50, maxFailuresPerIp: 200 } },
  });
  grpc = sessionClient(server.grpc?.port ?? 0);
  env = { TESSERA_DATA_DIR: server.dataDir, TESSERA_LOG_LEVEL: "silent" };
  tcpPort = Number(new URL(server.urls.tcp).port);
});
afterAll(async () => {
  grpc?.close();
  await server?.stop();
});

async function addUser(username: string): Promise<void> {
  const added = await cli(["users", "add", username, "--password-stdin"], { env, stdin: "secret123" });
  expect(added.code).toBe(0);
}

/** A socket logged in with a login frame, after `tokens` and `ready`. */
async function socketLogin(client: TestClient, username: string): Promise<void> {
  client.send({ type: "auth", provider: "password", username, password: "secret123" });
  expect(await client.next()).toMatchObject({ type: "tokens" });
  expect(await client.next()).toMatchObject({ type: "ready" });
}

describe("tessera users disable", () => {
  it("ends every session and socket of the user at once, on every surface", async () => {
    await addUser("lifer");
    const base = server.urls.http;
    const login = await http(base, "POST", "/auth/login", {
      json: { username: "lifer", password: "secret123" },
    });
    const ws = await openWebSocket(server.urls.ws);
    await socketLogin(ws, "lifer");
    const tcp = await openTcp(tcpPort);
    await socketLogin(tcp, "lifer");
    const created = await call(grpc, "CreateSession", {
      username: "lifer",
      password: "secret123",
      device_uuid: "d",
    });
    await addUser("bystander");
    const other = await openWebSocket(server.urls.ws);
    await socketLogin(other, "bystander");

    const disabled = await cli(["users", "disable", "lifer"], { env });
    expect(disabled).toMatchObject({ code: 0, out: "Disabled user lifer; 4 sessions ended.\n" });

    expect(await closeOf(ws)).toEqual({ code: 4401, reason: "token_revoked" });
    expect(await closeOf(tcp)).toEqual({ code: null, reason: "token_revoked" });
    const session = await http(base, "GET", "/auth/session", { token: String(login.body.accessToken) });
    expect(session).toMatchObject({ status: 401, body: { error: { code: "token_revoked" } } });
    const refreshed = await http(base, "POST", "/auth/refresh", {
      json: { refreshToken: login.body.refreshToken },
    });
    expect(refreshed).toMatchObject({ status: 401, body: { error: { code: "token_revoked" } } });
    const get = await failureOf(call(grpc, "GetSession", {}, bearer(String(created.auth_token))));
    expect(get).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    const reissue = await failureOf(call(grpc, "ReissueSession", { reissue_token: created.reissue_token }));
    expect(reissue).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    // Another user's socket is untouched.
    other.send({ type: "ping" });
    expect(await other.next()).toEqual({ type: "pong" });
    other.close();
  });

  it("a disabled user's logins are invalid_credentials on HTTP, both sockets, gRPC and a link; enable lets them in again", async () => {
    await addUser("paused");
    const base = server.urls.http;
    const login = await http(base, "POST", "/auth/login", {
      json: { username: "paused", password: "secret123" },
    });
    const link = await http(base, "POST", "/auth/links", { token: String(login.body.accessToken), json: {} });
    expect(link.status).toBe(201);
    expect((await cli(["users", "disable", "paused"], { env })).code).toBe(0);

    for (const path of ["/auth/login", "/auth/login/password", "/auth/login/unamepwd"]) {
      const refused = await http(base, "POST", path, { json: { username: "paused", password: "secret123" } });
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ error: { code: "invalid_credentials", message: expect.any(String) } });
    }
    // The same answer as a wrong password: the account's state is not told.
    const wrong = await http(base, "POST", "/auth/login", {
      json: { username: "paused", password: "wrong-one" },
    });
    expect(wrong.body.error.code).toBe("invalid_credentials");
    const ws = await openWebSocket(server.urls.ws);
    ws.send({ type: "auth", provider: "password", username: "paused", password: "secret123" });
    expect(await closeOf(ws)).toEqual({ code: 4401, reason: "invalid_credentials" });
    const tcp = await openTcp(tcpPort);
    tcp.send({ type: "auth", provider: "password", username: "paused", password: "secret123" });
    expect(await closeOf(tcp)).toEqual({ code: null, reason: "invalid_credentials" });
    const grpcLogin = await failureOf(
      call(grpc, "CreateSession", { username: "paused", password: "secret123", device_uuid: "d" }),
    );
    expect(grpcLogin).toMatchObject({ status: status.UNAUTHENTICATED, code: "invalid_credentials" });
    const linkPath = new URL(String(link.body.url)).pathname;
    const redeemed = await http(base, "GET", linkPath, { accept: "application/json" });
    expect(redeemed.status).toBe(401);
    expect(redeemed.body.error.code).toBe("invalid_credentials");
    const sessions = await cli(["sessions", "list", "--user", "paused", "--json"], { env });
    expect(JSON.parse(sessions.out)).toEqual([]);

    expect(await cli(["users", "enable", "paused"], { env })).toMatchObject({
      code: 0,
      out: "Enabled user paused.\n",
    });
    const back = await http(base, "POST", "/auth/login", {
      json: { username: "paused", password: "secret123" },
    });
    expect(back.status).toBe(200);
    const listed = await cli(["users", "list", "--json"], { env });
    const row = (JSON.parse(listed.out) as { username: string; disabledAt: string | null }[]).find(
      (user) => user.username === "paused",
    );
    expect(row?.disabledAt).toBeNull();
  });

  it("users list shows when a user was disabled", async () => {
    await addUser("listed-off");
    await cli(["users", "disable", "listed-off"], { env });
    const listed = await cli(["users", "list", "--json"], { env });
    const row = (JSON.parse(listed.out) as { username: string; disabledAt: string | null }[]).find(
      (user) => user.username === "listed-off",
    );
    expect(row?.disabledAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("an unknown username is a one-line error, exit 1; a missing one a usage error, exit 2", async () => {
    for (const command of ["disable", "enable", "delete"]) {
      const unknown = await cli(
        ["users", command, "nobody-here", "--yes"].slice(0, command === "delete" ? 4 : 3),
        {
          env,
        },
      );
      expect(unknown.code).toBe(1);
      expect(unknown.err).toBe("tessera: No user named nobody-here.\n");
      expect((await cli(["users", command], { env })).code).toBe(2);
    }
  });
});

describe("tessera users delete", () => {
  it("without --yes and without a terminal refuses, deletes nothing, exit 1", async () => {
    await addUser("keeper");
    const refused = await cli(["users", "delete", "keeper"], { env });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--yes/);
    const login = await http(server.urls.http, "POST", "/auth/login", {
      json: { username: "keeper", password: "secret123" },
    });
    expect(login.status).toBe(200);
  });

  it("with --yes ends the user's sessions and sockets, keeps their tokens refused and frees the username", async () => {
    await addUser("leaver");
    const base = server.urls.http;
    const login = await http(base, "POST", "/auth/login", {
      json: { username: "leaver", password: "secret123" },
    });
    const ws = await openWebSocket(server.urls.ws);
    await socketLogin(ws, "leaver");
    const deleted = await cli(["users", "delete", "leaver", "--yes"], { env });
    expect(deleted).toMatchObject({ code: 0, out: "Deleted user leaver; 2 sessions ended.\n" });
    expect(await closeOf(ws)).toEqual({ code: 4401, reason: "token_revoked" });
    const session = await http(base, "GET", "/auth/session", { token: String(login.body.accessToken) });
    expect(session).toMatchObject({ status: 401, body: { error: { code: "token_revoked" } } });
    const relogin = await http(base, "POST", "/auth/login", {
      json: { username: "leaver", password: "secret123" },
    });
    expect(relogin.body.error.code).toBe("invalid_credentials");
    const again = await http(base, "POST", "/auth/register", {
      json: { username: "leaver", password: "new-secret1" },
    });
    expect(again.status).toBe(201);
  });
});

describe("tessera users delete on a terminal", () => {
  /** The CLI with a terminal on stdin that answers `typed`. */
  async function onTerminal(argv: string[], typed: string) {
    let out = "";
    let err = "";
    const stdin = Object.assign(Readable.from([Buffer.from(`${typed}\n`)]), {
      isTTY: true,
      setRawMode: () => undefined,
    });
    const code = await runCli(argv, {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
      stdin,
      promptOut: new Writable({ write: (_chunk, _encoding, done) => done() }),
      env,
      cwd: process.cwd(),
    });
    return { code, out, err };
  }

  it("deletes only when the username is typed again", async () => {
    await addUser("asked");
    const wrong = await onTerminal(["users", "delete", "asked"], "someone-else");
    expect(wrong).toMatchObject({ code: 1, err: "tessera: Not confirmed; nothing was deleted." });
    expect((await cli(["users", "disable", "asked"], { env })).code).toBe(0); // still there
    const right = await onTerminal(["users", "delete", "asked"], "asked");
    expect(right).toMatchObject({ code: 0, out: "Deleted user asked; 0 sessions ended." });
  });
});
