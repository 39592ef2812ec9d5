import { describe, expect, it } from "vitest";
import { z } from "zod";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { TesseraError } from "../errors.js";
import type { Tessera } from "./tessera.js";

const MINUTE = 60_000;

/** A provider that proves a user by a badge number naming them (for tests only). */
function addBadgeProvider(tessera: Tessera): void {
  tessera.registerProvider({
    name: "badge",
    schema: z.object({ badge: z.string().min(1).max(64) }).strict(),
    async authenticate(input, context) {
      if (input.badge === "forged") throw new TesseraError("invalid_credentials", "Unknown badge.");
      return { user: await context.findOrCreateUser(input.badge) };
    },
  });
}

describe("reauthenticate", () => {
  it("with the password moves authenticatedAt on the same session: no new session, the tokens keep working", async () => {
    const { tessera, clock } = await makeEngine();
    const { user, pair } = await loggedIn(tessera);
    const before = await tessera.getSession(pair.sessionId);
    clock.advance(10 * MINUTE);
    const session = await tessera.reauthenticate({ sessionId: pair.sessionId, password: "secret123" });
    expect(session.id).toBe(pair.sessionId);
    expect(session.authenticatedAt).toBe(new Date(clock()).toISOString());
    expect(session.authenticatedAt).not.toBe(before?.authenticatedAt);
    expect(session.authMethods).toEqual(["pwd"]);
    expect(await tessera.listSessions(user.id)).toHaveLength(1);
    expect((await tessera.validate(pair.accessToken)).session.authenticatedAt).toBe(session.authenticatedAt);
  });

  it("a wrong password is invalid_credentials, changes nothing and counts towards throttling", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const before = await tessera.getSession(pair.sessionId);
    clock.advance(MINUTE);
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(await codeOf(tessera.reauthenticate({ sessionId: pair.sessionId, password: "wrong-one" }))).toBe(
        "invalid_credentials",
      );
    }
    expect((await tessera.getSession(pair.sessionId))?.authenticatedAt).toBe(before?.authenticatedAt);
    // The login counters are the same: the right password now waits too.
    expect(await codeOf(tessera.reauthenticate({ sessionId: pair.sessionId, password: "secret123" }))).toBe(
      "rate_limited",
    );
  });

  it("through a provider records the provider's name; a proof of another user is invalid_credentials", async () => {
    const { tessera } = await makeEngine();
    addBadgeProvider(tessera);
    const pair = await tessera.loginWith("badge", { badge: "ada" });
    const session = await tessera.reauthenticate({
      sessionId: pair.sessionId,
      provider: "badge",
      fields: { badge: "ada" },
    });
    expect(session.authMethods).toEqual(["badge"]);
    expect(
      await codeOf(
        tessera.reauthenticate({ sessionId: pair.sessionId, provider: "badge", fields: { badge: "grace" } }),
      ),
    ).toBe("invalid_credentials");
    expect(
      await codeOf(
        tessera.reauthenticate({ sessionId: pair.sessionId, provider: "badge", fields: { badge: "forged" } }),
      ),
    ).toBe("invalid_credentials");
    expect(
      await codeOf(
        tessera.reauthenticate({ sessionId: pair.sessionId, provider: "badge", fields: { pin: 1 } }),
      ),
    ).toBe("invalid_request");
    expect(
      await codeOf(tessera.reauthenticate({ sessionId: pair.sessionId, provider: "nope", fields: {} })),
    ).toBe("not_found");
  });

  it("the password provider by name takes {password} as the plain form does", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const session = await tessera.reauthenticate({
      sessionId: pair.sessionId,
      provider: "password",
      fields: { password: "secret123" },
    });
    expect(session.authMethods).toEqual(["pwd"]);
    expect(
      await codeOf(tessera.reauthenticate({ sessionId: pair.sessionId, provider: "password", fields: {} })),
    ).toBe("invalid_request");
  });

  it("of an ended session is token_revoked", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    await tessera.logout(pair.sessionId);
    expect(await codeOf(tessera.reauthenticate({ sessionId: pair.sessionId, password: "secret123" }))).toBe(
      "token_revoked",
    );
  });
});

describe("freshness (validate with maxAge)", () => {
  it("a session older than maxAge is reauthentication_required; use does not make it fresh; reauthentication does", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    await expect(tessera.validate(pair.accessToken, {}, { maxAge: 300 })).resolves.toBeTruthy();
    for (let minute = 0; minute < 6; minute++) {
      clock.advance(MINUTE);
      await tessera.validate(pair.accessToken); // in use all along
    }
    expect(await codeOf(tessera.validate(pair.accessToken, {}, { maxAge: 300 }))).toBe(
      "reauthentication_required",
    );
    // Without a demand the same token is fine: it is signed in, just not recently proved.
    await expect(tessera.validate(pair.accessToken)).resolves.toBeTruthy();
    await tessera.reauthenticate({ sessionId: pair.sessionId, password: "secret123" });
    await expect(tessera.validate(pair.accessToken, {}, { maxAge: 300 })).resolves.toBeTruthy();
  });

  it("a bad maxAge is a programmer's TypeError, not a client's error", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    await expect(tessera.validate(pair.accessToken, {}, { maxAge: -1 })).rejects.toBeInstanceOf(TypeError);
  });
});

describe("changePassword", () => {
  it("ends every other session of the user, keeps the asking one, and only the new password works", async () => {
    const { tessera } = await makeEngine();
    const { user, pair, username } = await loggedIn(tessera);
    const other = await tessera.login({ username, password: "secret123", deviceId: "phone" });
    const otherUser = await loggedIn(tessera);
    await tessera.changePassword({
      sessionId: pair.sessionId,
      currentPassword: "secret123",
      newPassword: "brand-new-secret",
    });
    expect(await codeOf(tessera.validate(other.accessToken))).toBe("token_revoked");
    expect(await codeOf(tessera.refresh(other.refreshToken))).toBe("token_revoked");
    expect((await tessera.validate(pair.accessToken)).session.id).toBe(pair.sessionId);
    expect((await tessera.listSessions(user.id)).map((session) => session.id)).toEqual([pair.sessionId]);
    // Another user's sessions are not touched.
    await expect(tessera.validate(otherUser.pair.accessToken)).resolves.toBeTruthy();
    expect(await codeOf(tessera.login({ username, password: "secret123" }))).toBe("invalid_credentials");
    await expect(tessera.login({ username, password: "brand-new-secret" })).resolves.toBeTruthy();
  });

  it("a wrong current password is invalid_credentials and changes nothing", async () => {
    const { tessera } = await makeEngine();
    const { pair, username } = await loggedIn(tessera);
    const other = await tessera.login({ username, password: "secret123" });
    expect(
      await codeOf(
        tessera.changePassword({
          sessionId: pair.sessionId,
          currentPassword: "not-it",
          newPassword: "brand-new-secret",
        }),
      ),
    ).toBe("invalid_credentials");
    await expect(tessera.validate(other.accessToken)).resolves.toBeTruthy();
    await expect(tessera.login({ username, password: "secret123" })).resolves.toBeTruthy();
  });

  it("a new password that registration would refuse is invalid_request naming newPassword", async () => {
    const { tessera } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    const error = await tessera
      .changePassword({ sessionId: pair.sessionId, currentPassword: "secret123", newPassword: "short" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "invalid_request", issues: [{ path: "newPassword" }] });
    const long = await tessera
      .changePassword({
        sessionId: pair.sessionId,
        currentPassword: "secret123",
        newPassword: "x".repeat(5000),
      })
      .catch((caught: unknown) => caught);
    expect(long).toMatchObject({ code: "invalid_request", issues: [{ path: "newPassword" }] });
  });

  it("counts as a fresh proof on the asking session", async () => {
    const { tessera, clock } = await makeEngine();
    const { pair } = await loggedIn(tessera);
    clock.advance(10 * MINUTE);
    await tessera.changePassword({
      sessionId: pair.sessionId,
      currentPassword: "secret123",
      newPassword: "brand-new-secret",
    });
    await expect(tessera.validate(pair.accessToken, {}, { maxAge: 60 })).resolves.toBeTruthy();
  });

  it("with endOtherSessions false keeps the other sessions", async () => {
    const { tessera } = await makeEngine();
    const { pair, username } = await loggedIn(tessera);
    const other = await tessera.login({ username, password: "secret123" });
    await tessera.changePassword({
      sessionId: pair.sessionId,
      currentPassword: "secret123",
      newPassword: "brand-new-secret",
      endOtherSessions: false,
    });
    await expect(tessera.validate(other.accessToken)).resolves.toBeTruthy();
  });
});
