import { describe, expect, it } from "vitest";
import { z } from "zod";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import type { EngineEvent } from "./context.js";

describe("disableUser / enableUser", () => {
  it("ends every session of the user at once and tells the surfaces; other users are untouched", async () => {
    const { tessera } = await makeEngine();
    const { user, pair, username } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(
      (await tessera.login({ username, password: "secret123" })).accessToken,
    );
    const bystander = await loggedIn(tessera);
    const events: EngineEvent[] = [];
    tessera.subscribe((event) => events.push(event));
    expect(await tessera.disableUser(user.id)).toBe(2);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(upgraded.refreshToken))).toBe("token_revoked");
    const ended = new Set(
      events.flatMap((event) =>
        event.type === "session_ended"
          ? [event.sessionId]
          : event.type === "user_sessions_ended" && event.userId === user.id
            ? ["*"]
            : [],
      ),
    );
    expect(ended.has("*") || (ended.has(pair.sessionId) && ended.has(upgraded.sessionId))).toBe(true);
    await expect(tessera.validate(bystander.pair.accessToken)).resolves.toBeTruthy();
  });

  it("a disabled user's logins are invalid_credentials — password, provider, a link — until enabled", async () => {
    const { tessera } = await makeEngine();
    tessera.registerProvider({
      name: "badge",
      schema: z.object({ badge: z.string() }).strict(),
      authenticate: async (input, context) => ({ user: await context.findOrCreateUser(input.badge) }),
    });
    const { user, username } = await loggedIn(tessera);
    const link = await tessera.issueLink({ userId: user.id });
    await tessera.disableUser(user.id);
    expect(await codeOf(tessera.login({ username, password: "secret123" }))).toBe("invalid_credentials");
    expect(await codeOf(tessera.loginWith("password", { username, password: "secret123" }))).toBe(
      "invalid_credentials",
    );
    expect(await codeOf(tessera.loginWith("badge", { badge: username }))).toBe("invalid_credentials");
    expect(await codeOf(tessera.redeemLink(link.token))).toBe("invalid_credentials");
    expect(await tessera.listSessions(user.id)).toEqual([]);
    // The same answer as a wrong password, so the account's state is not told.
    expect(await codeOf(tessera.login({ username, password: "wrong-one" }))).toBe("invalid_credentials");
    await tessera.enableUser(user.id);
    await expect(tessera.login({ username, password: "secret123" })).resolves.toBeTruthy();
  });

  it("a session that a login racing the disable wrote is refused: validation and refresh", async () => {
    const { tessera } = await makeEngine();
    const { user, username } = await loggedIn(tessera);
    // The disable lands between the login's account check and its session write.
    let raced = false;
    tessera.hook("login", async () => {
      if (raced) return;
      raced = true;
      await tessera.disableUser(user.id);
    });
    const pair = await tessera.login({ username, password: "secret123" });
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("token_revoked");
  });

  it("an unknown user id is not_found", async () => {
    const { tessera } = await makeEngine();
    expect(await codeOf(tessera.disableUser(424242))).toBe("not_found");
    expect(await codeOf(tessera.enableUser(424242))).toBe("not_found");
    expect(await codeOf(tessera.deleteUser(424242))).toBe("not_found");
  });
});

describe("deleteUser", () => {
  it("ends the sessions (their tokens answer token_revoked), drops the data and frees the username", async () => {
    const { tessera } = await makeEngine();
    const { user, pair, username } = await loggedIn(tessera);
    await tessera.setSessionData(pair.sessionId, { secret: "theirs" });
    expect(await tessera.deleteUser(user.id)).toBe(1);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("token_revoked");
    expect((await tessera.getSession(pair.sessionId))?.data ?? null).toBeNull();
    expect(await tessera.findUser(username)).toBeNull();
    expect(await codeOf(tessera.login({ username, password: "secret123" }))).toBe("invalid_credentials");
    const again = await tessera.register({ username, password: "another-secret" });
    expect(again.id).not.toBe(user.id);
  });
});
