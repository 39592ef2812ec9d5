import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";

describe("refresh", () => {
  it("spends the refresh token, returns a new pair of the session's type and extends the session", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    clock.advance(86_400_000);
    const next = await tessera.refresh(pair.refreshToken);
    expect(next.tokenType).toBe("jwt");
    expect(next.refreshToken).not.toBe(pair.refreshToken);
    expect(next.sessionId).toBe(pair.sessionId);
    expect(Date.parse(next.refreshExpiration) - Date.parse(pair.refreshExpiration)).toBe(86_400_000);
    await expect(tessera.validate(next.accessToken)).resolves.toMatchObject({ credential: "jwt" });
  });

  it("of an upgraded session rotates the session token too", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    const next = await tessera.refresh(upgraded.refreshToken);
    expect(next.tokenType).toBe("session");
    expect(next.accessToken).not.toBe(upgraded.accessToken);
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_invalid");
    await expect(tessera.validate(next.accessToken)).resolves.toMatchObject({ credential: "session" });
  });

  it("of a JWT session never makes a session token valid", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const next = await tessera.refresh(pair.refreshToken);
    expect(next.accessToken).not.toMatch(/^tss_/);
    const session = await tessera.getSession(pair.sessionId);
    expect(session?.tokenType).toBe("jwt");
  });

  it("two tabs refreshing with one token inside the grace window get the same successor and stay logged in", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    const [a, b, c] = await Promise.all([
      tessera.refresh(upgraded.refreshToken),
      tessera.refresh(upgraded.refreshToken),
      tessera.refresh(upgraded.refreshToken),
    ]);
    expect(b?.refreshToken).toBe(a?.refreshToken);
    expect(c?.refreshToken).toBe(a?.refreshToken);
    expect(b?.accessToken).toBe(a?.accessToken);
    // A retried request whose answer was lost, 9 s later, still gets the same pair.
    clock.advance(9_000);
    const retried = await tessera.refresh(upgraded.refreshToken);
    expect(retried.refreshToken).toBe(a?.refreshToken);
    await expect(tessera.validate(retried.accessToken)).resolves.toBeTruthy();
    // And the successor works: no second branch was created.
    const next = await tessera.refresh(retried.refreshToken);
    await expect(tessera.validate(next.accessToken)).resolves.toBeTruthy();
  });

  it("inside the grace window a JWT session's repeats get the same pair, access JWT included", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const [a, b] = await Promise.all([
      tessera.refresh(pair.refreshToken),
      tessera.refresh(pair.refreshToken),
    ]);
    clock.advance(9_000);
    const retried = await tessera.refresh(pair.refreshToken);
    expect(b).toEqual(a);
    expect(retried).toEqual(a);
    await expect(tessera.validate(retried.accessToken)).resolves.toMatchObject({ credential: "jwt" });
  });

  it("with a randomised signature (ES256) the repeated access JWT carries the same claims", async () => {
    const { tessera } = await makeEngine({ jwt: { algorithm: "ES256" } });
    const { pair } = await loggedIn(tessera);
    const a = await tessera.refresh(pair.refreshToken);
    const b = await tessera.refresh(pair.refreshToken);
    const claims = (token: string) => token.split(".").slice(0, 2).join(".");
    expect(claims(b.accessToken)).toBe(claims(a.accessToken));
    expect({ ...b, accessToken: "" }).toEqual({ ...a, accessToken: "" });
  });

  it("an old token shown after the grace window revokes the whole session with refresh_token_reused", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    const next = await tessera.refresh(upgraded.refreshToken);
    const ended: string[] = [];
    tessera.subscribe((event) => {
      if (event.type === "session_ended") ended.push(event.reason);
    });
    clock.advance(10_001);
    expect(await codeOf(tessera.refresh(upgraded.refreshToken))).toBe("refresh_token_reused");
    expect(await codeOf(tessera.validate(next.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(next.refreshToken))).toBe("token_revoked");
    expect(ended).toContain("refresh_token_reused");
  });

  it("an old token shown inside the window after its successor was used is reuse too", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const next = await tessera.refresh(pair.refreshToken);
    await tessera.refresh(next.refreshToken);
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("refresh_token_reused");
    expect(await tessera.getSession(pair.sessionId)).toMatchObject({ id: pair.sessionId });
    expect(await tessera.listSessions(pair.user.id)).toHaveLength(0);
  });

  it("with a grace window of 0 any replay is reuse", async () => {
    const { tessera } = await makeEngine({ refreshGraceSeconds: 0 });
    const { pair } = await loggedIn(tessera);
    await tessera.refresh(pair.refreshToken);
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("refresh_token_reused");
  });

  it("refuses malformed, unknown, expired and access tokens with their codes", async () => {
    const { tessera, clock } = await makeEngine({ sessionTtlSeconds: 3600 });
    const { pair } = await loggedIn(tessera);
    expect(await codeOf(tessera.refresh("tsr_short"))).toBe("token_invalid");
    expect(await codeOf(tessera.refresh(pair.accessToken))).toBe("token_invalid");
    const unknown = `tsr_${"A".repeat(43)}`;
    expect(await codeOf(tessera.refresh(`${unknown}AAAAAA`))).toBe("token_invalid");
    clock.advance(3_600_000);
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("token_expired");
  });

  it("runs the refresh hook once per rotation, not for grace-window repeats", async () => {
    const { tessera } = await makeEngine();
    let calls = 0;
    tessera.hook("refresh", () => {
      calls++;
    });
    const { pair } = await loggedIn(tessera);
    await tessera.refresh(pair.refreshToken);
    await tessera.refresh(pair.refreshToken);
    expect(calls).toBe(1);
  });
});

describe("server-side reissue", () => {
  it("extends the session, rotates the session token and supersedes the client's refresh token", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    clock.advance(86_400_000);
    const pushed = await tessera.reissue(upgraded.sessionId);
    expect(pushed.tokenType).toBe("session");
    expect(Date.parse(pushed.refreshExpiration) - Date.parse(upgraded.refreshExpiration)).toBe(86_400_000);
    expect(await codeOf(tessera.validate(upgraded.accessToken))).toBe("token_invalid");
    await expect(tessera.validate(pushed.accessToken)).resolves.toMatchObject({ credential: "session" });
    expect(await codeOf(tessera.refresh(upgraded.refreshToken))).toBe("token_revoked");
    await expect(tessera.refresh(pushed.refreshToken)).resolves.toBeTruthy();
  });

  it("of an ended session gives token_revoked", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    await tessera.logout(pair.sessionId);
    expect(await codeOf(tessera.reissue(pair.sessionId))).toBe("token_revoked");
  });
});
