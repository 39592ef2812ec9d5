import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { MemoryStore } from "../stores/memory/memory-store.js";

describe("register and login", () => {
  it("register returns a user with a positive integer id and a uuid, and login returns a JWT pair", async () => {
    const { tessera } = await makeEngine();
    const user = await tessera.register({ username: "hero", password: "secret123" });
    expect(user.id).toBeGreaterThan(0);
    expect(Number.isInteger(user.id)).toBe(true);
    expect(user.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const pair = await tessera.login({ username: "hero", password: "secret123" });
    expect(pair.tokenType).toBe("jwt");
    expect(pair.accessToken.split(".")).toHaveLength(3);
    expect(pair.refreshToken).toMatch(/^tsr_/);
    expect(pair.user).toEqual(user);
    expect(new Date(pair.accessExpiration).toISOString()).toBe(pair.accessExpiration);
    expect(Date.parse(pair.refreshExpiration) - Date.parse(pair.accessExpiration)).toBeGreaterThan(
      13 * 86_400_000,
    );
  });

  it("usernames are trimmed, NFKC-normalised and unique without regard to case", async () => {
    const { tessera } = await makeEngine();
    const user = await tessera.register({ username: "  Hero ", password: "secret123" });
    expect(user.username).toBe("Hero");
    expect(await codeOf(tessera.register({ username: "hero", password: "secret123" }))).toBe(
      "username_taken",
    );
    expect(await codeOf(tessera.register({ username: "ＨＥＲＯ", password: "secret123" }))).toBe(
      "username_taken",
    );
    await expect(tessera.login({ username: "HERO", password: "secret123" })).resolves.toMatchObject({
      user: { id: user.id },
    });
  });

  it("refuses empty, control-character and over-long usernames and short passwords with field errors", async () => {
    const { tessera } = await makeEngine();
    for (const username of ["", "   ", "a\u0000b", "zero\u200bwidth", "x".repeat(65)]) {
      expect(await codeOf(tessera.register({ username, password: "secret123" }))).toBe("invalid_request");
    }
    const error = await tessera.register({ username: "ok", password: "short" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_request", issues: [{ path: "password" }] });
  });

  it("two concurrent registrations of one name give one user and one username_taken", async () => {
    const { tessera } = await makeEngine();
    const results = await Promise.allSettled([
      tessera.register({ username: "twin", password: "secret123" }),
      tessera.register({ username: "TWIN", password: "secret123" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(
      results.filter((r) => r.status === "rejected").map((r) => (r.reason as { code: string }).code),
    ).toEqual(["username_taken"]);
  });

  it("a wrong password and an unknown user both give invalid_credentials with the same message", async () => {
    const { tessera } = await makeEngine();
    await tessera.register({ username: "hero", password: "secret123" });
    const wrong = await tessera
      .login({ username: "hero", password: "wrong-password" })
      .catch((e: Error) => e);
    const unknown = await tessera.login({ username: "nobody", password: "secret123" }).catch((e: Error) => e);
    expect(wrong).toMatchObject({ code: "invalid_credentials" });
    expect(unknown).toMatchObject({ code: "invalid_credentials", message: (wrong as Error).message });
    expect((wrong as Error).message).not.toContain("wrong-password");
  });

  it("a second login naming the same deviceId ends the session that held it", async () => {
    const { tessera } = await makeEngine();
    const { pair: first, username } = await loggedIn(tessera, "phone-1");
    const ended: string[] = [];
    tessera.subscribe((event) => {
      if (event.type === "session_ended") ended.push(event.sessionId);
    });
    const second = await tessera.login({ username, password: "secret123", deviceId: "phone-1" });
    expect(await codeOf(tessera.validate(first.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(first.refreshToken))).toBe("token_revoked");
    await expect(tessera.validate(second.accessToken)).resolves.toMatchObject({
      session: { deviceId: "phone-1" },
    });
    expect(ended).toContain(first.sessionId);
    const other = await tessera.login({ username, password: "secret123", deviceId: "laptop" });
    await expect(tessera.validate(other.accessToken)).resolves.toBeTruthy();
    await expect(tessera.validate(second.accessToken)).resolves.toBeTruthy();
    expect(await tessera.listSessions(second.user.id)).toHaveLength(2);
  });

  it("startSession can issue a session token at once, with data, for providers and gRPC", async () => {
    const { tessera } = await makeEngine();
    const user = await tessera.register({ username: "svc", password: null });
    const pair = await tessera.startSession({
      user,
      tokenType: "session",
      data: { cart: [1, 2] },
      provider: "x",
    });
    expect(pair.accessToken).toMatch(/^tss_/);
    const { session, credential } = await tessera.validate(pair.accessToken);
    expect(credential).toBe("session");
    expect(session.data).toEqual({ cart: [1, 2] });
    expect(await codeOf(tessera.login({ username: "svc", password: "anything-at-all" }))).toBe(
      "invalid_credentials",
    );
  });

  it("session data over the cap is refused with payload_too_large and no session is made", async () => {
    const { tessera } = await makeEngine({ maxSessionDataBytes: 1000 });
    const user = await tessera.register({ username: "big", password: null });
    expect(await codeOf(tessera.startSession({ user, data: "x".repeat(1000) }))).toBe("payload_too_large");
    expect(await tessera.listSessions(user.id)).toHaveLength(0);
  });

  it("records the user agent and IP address on the session and in the JWT", async () => {
    const { tessera } = await makeEngine();
    await tessera.register({ username: "meta", password: "secret123" });
    const pair = await tessera.login({
      username: "meta",
      password: "secret123",
      metadata: { userAgent: "curl/8", ipAddress: "127.0.0.1" },
    });
    const { session } = await tessera.validate(pair.accessToken);
    expect(session.metadata).toEqual({ userAgent: "curl/8", ipAddress: "127.0.0.1" });
    const claims = JSON.parse(Buffer.from(pair.accessToken.split(".")[1] ?? "", "base64url").toString());
    expect(claims).toMatchObject({
      metadata: { user_agent: "curl/8", ip_address: "127.0.0.1" },
      username: "meta",
    });
  });
});

describe("password normalisation (NIST SP 800-63B: NFKC)", () => {
  const composed = "caf\u00e9-secret"; // é as one code point (NFC)
  const decomposed = "cafe\u0301-secret"; // e + combining acute accent (NFD)

  it("a password registered composed logs in typed decomposed, and the other way round", async () => {
    const { tessera } = await makeEngine();
    await tessera.register({ username: "ana", password: composed });
    await tessera.register({ username: "bea", password: decomposed });
    expect((await tessera.login({ username: "ana", password: decomposed })).user.username).toBe("ana");
    expect((await tessera.login({ username: "bea", password: composed })).user.username).toBe("bea");
    expect(await codeOf(tessera.login({ username: "ana", password: "cafe-secret" }))).toBe(
      "invalid_credentials",
    );
  });

  it("a hash made before normalisation still verifies, and is replaced by a hash of the normalised form", async () => {
    const { hash, verify } = await import("@node-rs/argon2");
    const store = new MemoryStore();
    const { tessera } = await makeEngine({ store });
    const legacy = await hash(decomposed, { memoryCost: 1024, timeCost: 1 });
    const user = await store.createUser({
      uuid: "7d9a4c1e-0000-4000-8000-000000000001",
      username: "cleo",
      usernameKey: "cleo",
      passwordHash: legacy,
      createdAt: Date.now(),
    });
    if (user === null) throw new Error("user not created");
    const rehashed = new Promise<string>((resolve) => {
      const original = store.setPasswordHash.bind(store);
      store.setPasswordHash = async (userId, passwordHash) => {
        const done = await original(userId, passwordHash);
        resolve(passwordHash);
        return done;
      };
    });
    expect((await tessera.login({ username: "cleo", password: decomposed })).user.username).toBe("cleo");
    const replacement = await rehashed;
    expect(replacement).not.toBe(legacy);
    expect(await verify(replacement, composed)).toBe(true);
    expect((await store.findUserById(user.id))?.passwordHash).toBe(replacement);
    expect((await tessera.login({ username: "cleo", password: composed })).user.username).toBe("cleo");
    expect(await codeOf(tessera.login({ username: "cleo", password: "cafe-secret" }))).toBe(
      "invalid_credentials",
    );
  });
});
