import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { TesseraError } from "../errors.js";

describe("the upgrade", () => {
  it("uses the request the beforeUpgrade hook returns: its metadata is stored on the session", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const seen: unknown[] = [];
    tessera.hook("beforeUpgrade", ({ request }) => {
      seen.push(request.metadata);
      return { metadata: { ...request.metadata, userAgent: "rewritten-by-hook/2.0" } };
    });
    const upgraded = await tessera.upgrade(pair.accessToken, {
      userAgent: "game-client/1.0",
      ipAddress: "198.51.100.7",
    });
    expect(seen).toEqual([{ userAgent: "game-client/1.0", ipAddress: "198.51.100.7" }]);
    const session = await tessera.getSession(upgraded.sessionId);
    expect(session?.metadata).toEqual({ userAgent: "rewritten-by-hook/2.0", ipAddress: "198.51.100.7" });
  });

  it("stores the upgrading client's metadata, keeping the login's where the upgrade gives none", async () => {
    const { tessera } = await makeEngine();
    const username = "meta-user";
    await tessera.register({ username, password: "secret123" });
    const pair = await tessera.login({
      username,
      password: "secret123",
      metadata: { userAgent: "browser/1", ipAddress: "192.0.2.1" },
    });
    const upgraded = await tessera.upgrade(pair.accessToken, { ipAddress: "192.0.2.99" });
    expect((await tessera.getSession(upgraded.sessionId))?.metadata).toEqual({
      userAgent: "browser/1",
      ipAddress: "192.0.2.99",
    });
  });

  it("runs upgradeFailed with the error and the request for every refused upgrade, and never changes the answer", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const failures: { code: string; jti: string | null; ip: unknown }[] = [];
    tessera.hook("upgradeFailed", ({ error, claims, request }) => {
      failures.push({ code: error.code, jti: claims?.jti ?? null, ip: request.metadata.ipAddress });
      throw new Error("a failing failure hook is only reported");
    });
    expect(await codeOf(tessera.upgrade("not-a-jwt", { ipAddress: "192.0.2.5" }))).toBe("token_invalid");
    await tessera.upgrade(pair.accessToken);
    expect(await codeOf(tessera.upgrade(pair.accessToken, { ipAddress: "192.0.2.6" }))).toBe("token_revoked");
    expect(failures).toEqual([
      { code: "token_invalid", jti: null, ip: "192.0.2.5" },
      { code: "token_revoked", jti: null, ip: "192.0.2.6" },
    ]);
    // A refusal by beforeUpgrade is a failure too, with the verified claims.
    const second = await loggedIn(tessera);
    tessera.hook("beforeUpgrade", () => {
      throw new TesseraError("forbidden", "Not today.");
    });
    expect(await codeOf(tessera.upgrade(second.pair.accessToken))).toBe("forbidden");
    expect(failures.at(-1)).toMatchObject({ code: "forbidden", jti: expect.any(String) });
  });

  it("turns an access JWT into a session token for the same session and refuses the JWT from then on", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    expect(upgraded.tokenType).toBe("session");
    expect(upgraded.accessToken).toMatch(/^tss_/);
    expect(upgraded.sessionId).toBe(pair.sessionId);
    expect(upgraded.accessExpiration).toBe(upgraded.refreshExpiration);
    const { session, credential } = await tessera.validate(upgraded.accessToken);
    expect(credential).toBe("session");
    expect(session.tokenType).toBe("session");
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.upgrade(pair.accessToken))).toBe("token_revoked");
  });

  it("of one JWT raced ten times succeeds exactly once", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => tessera.upgrade(pair.accessToken)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "token_revoked" });
  });

  it("supersedes the login refresh token without ending the session", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("token_revoked");
    await expect(tessera.validate(upgraded.accessToken)).resolves.toBeTruthy();
    const next = await tessera.refresh(upgraded.refreshToken);
    expect(next.tokenType).toBe("session");
  });

  it("refuses session tokens, refresh tokens and garbage with token_invalid", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    expect(await codeOf(tessera.upgrade(upgraded.accessToken))).toBe("token_invalid");
    expect(await codeOf(tessera.upgrade(upgraded.refreshToken))).toBe("token_invalid");
    expect(await codeOf(tessera.upgrade("eyJ.nope.x"))).toBe("token_invalid");
  });

  it("runs beforeUpgrade with the claims and attaches what afterUpgrade returns as data", async () => {
    const { tessera } = await makeEngine();
    const seen: string[] = [];
    tessera.hook("beforeUpgrade", ({ claims, request }) => {
      seen.push(claims.sid);
      return { metadata: { ...request.metadata, userAgent: "game-client" } };
    });
    tessera.hook("afterUpgrade", ({ session }) => ({ room: "lobby", sessionId: session.id }));
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    expect(seen).toEqual([pair.sessionId]);
    const { session } = await tessera.validate(upgraded.accessToken);
    expect(session.data).toEqual({ room: "lobby", sessionId: pair.sessionId });
  });

  it("a throwing beforeUpgrade hook refuses the upgrade and leaves the JWT usable", async () => {
    const { tessera } = await makeEngine();
    tessera.hook("beforeUpgrade", () => {
      throw new Error("no upgrades today");
    });
    const { pair } = await loggedIn(tessera);
    const error = await tessera.upgrade(pair.accessToken).catch((e: Error) => e);
    expect(error).toMatchObject({ code: "internal_error", message: "The beforeUpgrade hook failed." });
    await expect(tessera.validate(pair.accessToken)).resolves.toMatchObject({ credential: "jwt" });
  });

  it("a throwing afterUpgrade hook ends the session rather than leaving it half-upgraded", async () => {
    const { tessera } = await makeEngine();
    tessera.hook("afterUpgrade", () => {
      throw new Error("game server down");
    });
    const { pair, user } = await loggedIn(tessera);
    expect(await codeOf(tessera.upgrade(pair.accessToken))).toBe("internal_error");
    expect(await tessera.listSessions(user.id)).toHaveLength(0);
  });
});
