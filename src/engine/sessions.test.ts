import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";

describe("managing sessions", () => {
  it("logout refuses every token of that session at once, JWT and session token alike", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const refreshed = await tessera.refresh(pair.refreshToken);
    await tessera.logout(pair.sessionId);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.validate(refreshed.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(refreshed.refreshToken))).toBe("token_revoked");
  });

  it("logout of an upgraded session refuses its session token", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    await tessera.validate(upgraded.accessToken);
    await tessera.logout(upgraded.sessionId);
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_revoked");
  });

  it("logout-all ends every session of the user and no other user's", async () => {
    const { tessera } = await makeEngine();
    const { pair, username } = await loggedIn(tessera, "a");
    const second = await tessera.login({ username, password: "secret123", deviceId: "b" });
    const stranger = await loggedIn(tessera);
    expect(await tessera.logoutAll(pair.user.id)).toBe(2);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.validate(second.accessToken))).toBe("token_revoked");
    await expect(tessera.validate(stranger.pair.accessToken)).resolves.toBeTruthy();
  });

  it("lists live sessions newest first and revokes one by id, refusing another user's id as not_found", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair, username } = await loggedIn(tessera);
    clock.advance(1000);
    const second = await tessera.login({ username, password: "secret123" });
    const stranger = await loggedIn(tessera);
    expect((await tessera.listSessions(pair.user.id)).map((s) => s.id)).toEqual([
      second.sessionId,
      pair.sessionId,
    ]);
    expect(await codeOf(tessera.revokeSession(stranger.pair.sessionId, { ownerId: pair.user.id }))).toBe(
      "not_found",
    );
    await expect(tessera.validate(stranger.pair.accessToken)).resolves.toBeTruthy();
    await tessera.revokeSession(pair.sessionId, { ownerId: pair.user.id });
    expect((await tessera.listSessions(pair.user.id)).map((s) => s.id)).toEqual([second.sessionId]);
  });

  it("session data is replaced, seen by the next validation, and capped", async () => {
    const { tessera } = await makeEngine({ maxSessionDataBytes: 2048 });
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    await tessera.validate(upgraded.accessToken);
    await tessera.setSessionData(pair.sessionId, { level: 3 });
    expect((await tessera.validate(upgraded.accessToken)).session.data).toEqual({ level: 3 });
    expect(await codeOf(tessera.setSessionData(pair.sessionId, "x".repeat(2048)))).toBe("payload_too_large");
    expect((await tessera.validate(upgraded.accessToken)).session.data).toEqual({ level: 3 });
  });

  it("the revoke hook hears every revocation with its reason, and its failure does not undo it", async () => {
    const { tessera } = await makeEngine();
    const heard: string[] = [];
    tessera.hook("revoke", ({ reason }) => {
      heard.push(reason);
      throw new Error("audit log down");
    });
    const { pair } = await loggedIn(tessera);
    await tessera.logout(pair.sessionId);
    expect(heard).toEqual(["logout"]);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
  });

  it("a throwing login hook refuses the login and no session is made", async () => {
    const { tessera } = await makeEngine();
    const { TesseraError } = await import("../errors.js");
    tessera.hook("login", ({ user }) => {
      if (user.username.startsWith("banned"))
        throw new TesseraError("forbidden", "This account is suspended.");
    });
    const user = await tessera.register({ username: "banned-1", password: "secret123" });
    expect(await codeOf(tessera.login({ username: "banned-1", password: "secret123" }))).toBe("forbidden");
    expect(await tessera.listSessions(user.id)).toHaveLength(0);
  });

  it("a throwing sessionCreated hook leaves no live session behind", async () => {
    const { tessera } = await makeEngine();
    tessera.hook("sessionCreated", () => {
      throw new Error("boom");
    });
    const user = await tessera.register({ username: "unlucky", password: "secret123" });
    expect(await codeOf(tessera.login({ username: "unlucky", password: "secret123" }))).toBe(
      "internal_error",
    );
    expect(await tessera.listSessions(user.id)).toHaveLength(0);
  });
});
