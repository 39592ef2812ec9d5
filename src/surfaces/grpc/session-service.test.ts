import { Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, call, failureOf, type SessionClient, sessionClient } from "../../../test/grpc-kit.js";
import { makeEngine, type TestClock } from "../../../test/kit.js";
import type { Tessera } from "../../engine/tessera.js";
import { type GrpcServerHandle, startGrpcServer } from "./server.js";

const DAY_MS = 24 * 60 * 60 * 1000;

let tessera: Tessera;
let clock: TestClock;
let server: GrpcServerHandle;
let client: SessionClient;
const logged: { details: object; message: string }[] = [];

beforeAll(async () => {
  ({ tessera, clock } = await makeEngine());
  server = await startGrpcServer({
    tessera,
    port: 0,
    host: "127.0.0.1",
    logger: { error: (details, message) => logged.push({ details, message }) },
  });
  client = sessionClient(server.port);
});

afterAll(async () => {
  client.close();
  await server.close();
  tessera.close();
});

async function newUser(): Promise<{ username: string; id: number; uuid: string }> {
  const username = `grpc-${Math.random().toString(36).slice(2, 10)}`;
  const user = await tessera.register({ username, password: "secret123" });
  return { username, id: user.id, uuid: user.uuid };
}

/** The token with its last character changed (always to a different one). */
function mistyped(token: string): string {
  return `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
}

function create(username: string, device_uuid = "device-1", password = "secret123") {
  return call(client, "CreateSession", { username, password, device_uuid });
}

describe("CreateSession", () => {
  it("returns a session token, a reissue token and the session's expiry", async () => {
    const user = await newUser();
    const response = await create(user.username);
    expect(response.auth_token).toMatch(/^tss_/);
    expect(response.reissue_token).toMatch(/^tsr_/);
    expect(response.exp).toBe(Math.floor((clock() + 14 * DAY_MS) / 1000));
    expect(response).toMatchObject({
      user_id: String(user.id),
      username: user.username,
      user_uuid: user.uuid,
    });

    const validated = await tessera.validate(String(response.auth_token));
    expect(validated.credential).toBe("session");
    expect(validated.session).toMatchObject({ userId: user.id, deviceId: "device-1", tokenType: "session" });
  });

  it("records the caller's user agent and address on the session", async () => {
    const user = await newUser();
    const response = await create(user.username);
    const { session } = await tessera.validate(String(response.auth_token));
    expect(session.metadata.userAgent).toMatch(/grpc-node-js/);
    expect(session.metadata.ipAddress).toBe("127.0.0.1");
  });

  it("a second CreateSession for the same device ends the first session", async () => {
    const user = await newUser();
    const first = await create(user.username, "phone");
    const other = await create(user.username, "laptop");
    const second = await create(user.username, "phone");

    const refused = await failureOf(call(client, "GetSession", { token: first.auth_token }));
    expect(refused).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    expect(await call(client, "GetSession", { token: second.auth_token })).toMatchObject({
      device_uuid: "phone",
    });
    expect(await call(client, "GetSession", { token: other.auth_token })).toMatchObject({
      device_uuid: "laptop",
    });
    // The first session's reissue token died with it.
    const reissue = await failureOf(call(client, "ReissueSession", { reissue_token: first.reissue_token }));
    expect(reissue.status).toBe(status.UNAUTHENTICATED);
  });

  it("a wrong password and an unknown user are both UNAUTHENTICATED invalid_credentials", async () => {
    const user = await newUser();
    const wrong = await failureOf(create(user.username, "d", "not-the-password"));
    const unknown = await failureOf(create("nobody-at-all", "d"));
    for (const failure of [wrong, unknown]) {
      expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code: "invalid_credentials" });
      expect(failure.details).toBe("invalid_credentials: The username or password is incorrect.");
    }
    expect(await tessera.listSessions(user.id)).toEqual([]);
  });

  it.each([
    ["device_uuid is missing", { username: "someone", password: "secret123" }, "device_uuid"],
    ["device_uuid is empty", { username: "someone", password: "secret123", device_uuid: "" }, "device_uuid"],
    [
      "device_uuid is too long",
      { username: "someone", password: "secret123", device_uuid: "d".repeat(129) },
      "device_uuid",
    ],
    ["username is missing", { password: "secret123", device_uuid: "d" }, "username"],
    [
      "username is too long",
      { username: "u".repeat(257), password: "secret123", device_uuid: "d" },
      "username",
    ],
    ["password is missing", { username: "someone", device_uuid: "d" }, "password"],
    [
      "password is too long",
      { username: "someone", password: "p".repeat(4097), device_uuid: "d" },
      "password",
    ],
  ])("INVALID_ARGUMENT when %s", async (_name, request, field) => {
    const failure = await failureOf(call(client, "CreateSession", request));
    expect(failure).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
    expect(failure.details).toMatch(new RegExp(`^invalid_request: ${field} `));
    const issues = JSON.parse(String(failure.metadata.get("tessera-error-issues")[0]));
    expect(issues).toEqual([{ path: field, message: expect.any(String) }]);
  });

  it("never echoes the password in an error", async () => {
    const user = await newUser();
    const password = "hunter2-very-secret";
    const failure = await failureOf(create(user.username, "d", password));
    expect(failure.details).not.toContain(password);
    expect(JSON.stringify(failure.metadata.getMap())).not.toContain(password);
  });
});

describe("ReissueSession", () => {
  it("extends the session by its full lifetime and rotates both tokens", async () => {
    const user = await newUser();
    const created = await create(user.username);
    clock.advance(3 * DAY_MS);
    const reissued = await call(client, "ReissueSession", { reissue_token: created.reissue_token });

    expect(reissued.auth_token).toMatch(/^tss_/);
    expect(reissued.auth_token).not.toBe(created.auth_token);
    expect(reissued.reissue_token).not.toBe(created.reissue_token);
    expect(reissued.exp).toBe(Math.floor((clock() + 14 * DAY_MS) / 1000));
    expect(reissued).toMatchObject({
      user_id: String(user.id),
      username: user.username,
      user_uuid: user.uuid,
    });
    const session = await call(client, "GetSession", { token: reissued.auth_token });
    expect(session.exp).toBe(reissued.exp);
  });

  it("a retry within the grace window receives the same tokens", async () => {
    const user = await newUser();
    const created = await create(user.username);
    const first = await call(client, "ReissueSession", { reissue_token: created.reissue_token });
    clock.advance(5_000);
    const retry = await call(client, "ReissueSession", { reissue_token: created.reissue_token });
    expect(retry).toEqual(first);
  });

  it("a spent reissue token shown after the grace window revokes the session", async () => {
    const user = await newUser();
    const created = await create(user.username);
    const next = await call(client, "ReissueSession", { reissue_token: created.reissue_token });
    clock.advance(11_000);

    const reused = await failureOf(call(client, "ReissueSession", { reissue_token: created.reissue_token }));
    expect(reused).toMatchObject({ status: status.UNAUTHENTICATED, code: "refresh_token_reused" });
    const revoked = await failureOf(call(client, "GetSession", { token: next.auth_token }));
    expect(revoked).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    const successor = await failureOf(call(client, "ReissueSession", { reissue_token: next.reissue_token }));
    expect(successor.status).toBe(status.UNAUTHENTICATED);
  });

  it("refuses what is not a live reissue token", async () => {
    const user = await newUser();
    const created = await create(user.username);
    for (const reissue_token of ["tsr_garbage", String(created.auth_token), "x"]) {
      const failure = await failureOf(call(client, "ReissueSession", { reissue_token }));
      expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_invalid" });
    }
    const missing = await failureOf(call(client, "ReissueSession", {}));
    expect(missing).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
    const long = await failureOf(call(client, "ReissueSession", { reissue_token: "t".repeat(8193) }));
    expect(long).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
  });
});

describe("DestroySession", () => {
  it("ends the session named by the bearer metadata; its token is refused after", async () => {
    const user = await newUser();
    const created = await create(user.username);
    expect(await call(client, "DestroySession", {}, bearer(String(created.auth_token)))).toEqual({});

    const after = await failureOf(call(client, "GetSession", { token: created.auth_token }));
    expect(after).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    expect(after.details).toMatch(/^token_revoked: /);
    const again = await failureOf(call(client, "DestroySession", {}, bearer(String(created.auth_token))));
    expect(again).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_revoked" });
    const reissue = await failureOf(call(client, "ReissueSession", { reissue_token: created.reissue_token }));
    expect(reissue.status).toBe(status.UNAUTHENTICATED);
  });

  it("is UNAUTHENTICATED without authorization metadata or with another scheme", async () => {
    const user = await newUser();
    const created = await create(user.username);
    const basic = new Metadata();
    basic.set("authorization", `Basic ${created.auth_token}`);
    for (const metadata of [new Metadata(), basic, bearer("")]) {
      const failure = await failureOf(call(client, "DestroySession", {}, metadata));
      expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_invalid" });
      expect(failure.details).not.toContain(String(created.auth_token));
    }
    // The session is untouched.
    expect(await call(client, "GetSession", { token: created.auth_token })).toMatchObject({
      username: user.username,
    });
  });
});

describe("GetSession", () => {
  it("describes the session of a session token", async () => {
    const user = await newUser();
    const created = await create(user.username, "tablet");
    const { session } = await tessera.validate(String(created.auth_token));
    await tessera.setSessionData(session.id, { plan: "pro", seats: 3 });

    const response = await call(client, "GetSession", { token: created.auth_token });
    expect(response).toEqual({
      session_id: session.id,
      user_id: String(user.id),
      username: user.username,
      user_uuid: user.uuid,
      device_uuid: "tablet",
      exp: created.exp,
      token_type: "session",
      data_json: JSON.stringify({ plan: "pro", seats: 3 }),
      credential: "session",
      created_at: Math.floor(Date.parse(session.createdAt) / 1000),
      last_seen_at: expect.any(Number),
      user_agent: expect.stringMatching(/grpc-node-js/),
      ip_address: "127.0.0.1",
    });
  });

  it("accepts an access JWT, and reads the bearer metadata when the token field is empty", async () => {
    const user = await newUser();
    const pair = await tessera.login({ username: user.username, password: "secret123" });
    const viaField = await call(client, "GetSession", { token: pair.accessToken });
    const viaMetadata = await call(client, "GetSession", {}, bearer(pair.accessToken));
    for (const response of [viaField, viaMetadata]) {
      expect(response).toMatchObject({
        session_id: pair.sessionId,
        credential: "jwt",
        token_type: "jwt",
        device_uuid: "",
        data_json: "null",
      });
    }
  });

  it("maps every kind of bad token to UNAUTHENTICATED with its contract code", async () => {
    const user = await newUser();
    const created = await create(user.username);
    const cases: [unknown, string][] = [
      ["not-a-token", "token_invalid"],
      [mistyped(String(created.auth_token)), "token_invalid"],
      [created.reissue_token, "token_invalid"],
    ];
    for (const [token, code] of cases) {
      const failure = await failureOf(call(client, "GetSession", { token }));
      expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code });
    }
    const none = await failureOf(call(client, "GetSession", {}));
    expect(none).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_invalid" });
    const long = await failureOf(call(client, "GetSession", { token: "t".repeat(8193) }));
    expect(long).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
  });

  it("is UNAUTHENTICATED token_expired once the session's lifetime has passed", async () => {
    const user = await newUser();
    const created = await create(user.username);
    clock.advance(15 * DAY_MS);
    const failure = await failureOf(call(client, "GetSession", { token: created.auth_token }));
    expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_expired" });
  });
});

describe("unexpected failures", () => {
  it("answer INTERNAL internal_error without a stack; the cause goes to the log", async () => {
    const user = await newUser();
    const remove = tessera.hook("login", () => {
      throw new Error("database exploded at /srv/secret/path.ts:12");
    });
    try {
      const failure = await failureOf(create(user.username));
      expect(failure).toMatchObject({ status: status.INTERNAL, code: "internal_error" });
      expect(failure.details).not.toMatch(/exploded|secret|\.ts:/);
    } finally {
      remove();
    }
    expect(logged.at(-1)).toMatchObject({
      message: "grpc call failed",
      details: { method: "CreateSession" },
    });
    const { err } = logged.at(-1)?.details as { err: unknown };
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/database exploded/);
  });
});
