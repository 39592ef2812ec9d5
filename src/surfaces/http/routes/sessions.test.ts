import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { body, errorCode, httpLogin, httpSession, makeApp, type TestApp } from "../../../../test/http-kit.js";
import type { Session, TokenPair } from "../../../engine/types.js";

let t: TestApp;
beforeEach(async () => {
  t = await makeApp({ maxSessionDataBytes: 1024 });
});
afterEach(async () => {
  await t.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("GET /auth/session", () => {
  it("says who the user is: {session, user: {id, uuid, username}}", async () => {
    const { pair, username } = await httpSession(t.app);
    const response = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    const answer = body<{ session: Session; user: Record<string, unknown> }>(response);
    expect(answer.user).toEqual({ id: pair.user.id, uuid: pair.user.uuid, username });
    expect(answer.session.userId).toBe(pair.user.id);
  });

  it("answers the session for a JWT and for a session token", async () => {
    const { pair } = await httpLogin(t.app);
    const withJwt = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(withJwt.statusCode).toBe(200);
    const { session } = body<{ session: Session }>(withJwt);
    expect(session.id).toBe(pair.sessionId);
    expect(session.tokenType).toBe("jwt");
    expect(session.userId).toBe(pair.user.id);

    const upgraded = await httpSession(t.app);
    const withSession = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(upgraded.pair.accessToken),
    });
    expect(body<{ session: Session }>(withSession).session.tokenType).toBe("session");
  });

  it("refuses a missing, a malformed and a tampered token with token_invalid", async () => {
    const { pair } = await httpSession(t.app);
    const tampered = `${pair.accessToken.slice(0, -2)}${pair.accessToken.endsWith("AA") ? "BB" : "AA"}`;
    for (const headers of [{}, bearer("tss_short"), bearer(tampered), bearer("a.b.c")]) {
      const response = await t.app.inject({ method: "GET", url: "/auth/session", headers });
      expect(response.statusCode).toBe(401);
      expect(errorCode(response)).toBe("token_invalid");
    }
  });

  it("refuses a refresh token as an access credential", async () => {
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.refreshToken),
    });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("token_invalid");
  });

  it("refuses an expired session token with token_expired", async () => {
    const { pair } = await httpSession(t.app);
    t.clock.advance(15 * 24 * 3600 * 1000);
    const response = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe("token_expired");
  });
});

describe("PUT /auth/session/data", () => {
  it("stores any JSON value and answers the session carrying it", async () => {
    const { pair } = await httpSession(t.app);
    for (const data of [{ cart: [1, 2, 3] }, "plain", 42, null, [true]]) {
      const response = await t.app.inject({
        method: "PUT",
        url: "/auth/session/data",
        headers: { ...bearer(pair.accessToken), "content-type": "application/json" },
        payload: JSON.stringify(data),
      });
      expect(response.statusCode).toBe(200);
      expect(body<{ session: Session }>(response).session.data).toEqual(data);
    }
    const read = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(body<{ session: Session }>(read).session.data).toEqual([true]);
  });

  it("answers 413 payload_too_large for data over the engine's cap and keeps the old data", async () => {
    const { pair } = await httpSession(t.app);
    await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: bearer(pair.accessToken),
      payload: { a: 1 },
    });
    const response = await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: bearer(pair.accessToken),
      payload: { blob: "x".repeat(2000) },
    });
    expect(response.statusCode).toBe(413);
    expect(errorCode(response)).toBe("payload_too_large");
    const read = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(body<{ session: Session }>(read).session.data).toEqual({ a: 1 });
  });

  it("refuses an absent body, bad JSON and a non-JSON content type with invalid_request", async () => {
    const { pair } = await httpSession(t.app);
    const absent = await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: bearer(pair.accessToken),
    });
    expect(absent.statusCode).toBe(400);
    expect(errorCode(absent)).toBe("invalid_request");
    const bad = await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: { ...bearer(pair.accessToken), "content-type": "application/json" },
      payload: "{not json",
    });
    expect(bad.statusCode).toBe(400);
    expect(errorCode(bad)).toBe("invalid_request");
    const text = await t.app.inject({
      method: "PUT",
      url: "/auth/session/data",
      headers: { ...bearer(pair.accessToken), "content-type": "text/plain" },
      payload: "hello",
    });
    expect(text.statusCode).toBe(400);
    expect(errorCode(text)).toBe("invalid_request");
  });
});

describe("GET /auth/sessions and DELETE /auth/sessions/:id", () => {
  it("lists the user's live sessions and names the current one", async () => {
    const { username, password, pair } = await httpLogin(t.app);
    const second = body<TokenPair>(
      await t.app.inject({ method: "POST", url: "/auth/login", payload: { username, password } }),
    );
    await httpLogin(t.app); // someone else's session must not appear
    const response = await t.app.inject({
      method: "GET",
      url: "/auth/sessions",
      headers: bearer(pair.accessToken),
    });
    expect(response.statusCode).toBe(200);
    const { sessions, currentSessionId } = body<{ sessions: Session[]; currentSessionId: string }>(response);
    expect(currentSessionId).toBe(pair.sessionId);
    expect(sessions.map((session) => session.id).sort()).toEqual([pair.sessionId, second.sessionId].sort());
  });

  it("revokes one of the user's sessions: 204, and its tokens are refused", async () => {
    const { username, password, pair } = await httpLogin(t.app);
    const other = body<TokenPair>(
      await t.app.inject({ method: "POST", url: "/auth/login", payload: { username, password } }),
    );
    const response = await t.app.inject({
      method: "DELETE",
      url: `/auth/sessions/${other.sessionId}`,
      headers: bearer(pair.accessToken),
    });
    expect(response.statusCode).toBe(204);
    const after = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(other.accessToken),
    });
    expect(errorCode(after)).toBe("token_revoked");
    const mine = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(pair.accessToken),
    });
    expect(mine.statusCode).toBe(200);
  });

  it("answers 404 not_found for another user's session id, which stays alive", async () => {
    const mine = await httpLogin(t.app);
    const theirs = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "DELETE",
      url: `/auth/sessions/${theirs.pair.sessionId}`,
      headers: bearer(mine.pair.accessToken),
    });
    expect(response.statusCode).toBe(404);
    expect(errorCode(response)).toBe("not_found");
    const alive = await t.app.inject({
      method: "GET",
      url: "/auth/session",
      headers: bearer(theirs.pair.accessToken),
    });
    expect(alive.statusCode).toBe(200);
  });

  it("answers 404 for an id that does not exist", async () => {
    const { pair } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "DELETE",
      url: "/auth/sessions/no-such-session",
      headers: bearer(pair.accessToken),
    });
    expect(response.statusCode).toBe(404);
  });
});
