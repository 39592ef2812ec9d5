import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { TesseraError } from "../errors.js";
import type { AuthProvider } from "./providers.js";

/** A provider that vouches for whoever `who` names, as partner `issuer` says. */
const vouching = (
  options: { create?: boolean; adoptUnlinkedUser?: boolean } = {},
): AuthProvider<{ issuer: string; who: string }> => ({
  name: "vouch",
  schema: z.object({ issuer: z.string(), who: z.string() }).strict(),
  authenticate: async (input, context) => ({
    user: await context.resolveIdentity({ issuer: input.issuer, subject: input.who }, options),
  }),
});

async function engineWith(provider: AuthProvider<{ issuer: string; who: string }> = vouching()) {
  const made = await makeEngine();
  made.tessera.registerProvider(provider);
  return made;
}

describe("resolveIdentity", () => {
  it("never resolves to the local user of the same name", async () => {
    const { tessera } = await engineWith();
    const { user, username } = await loggedIn(tessera);
    const pair = await tessera.loginWith("vouch", { issuer: "acme", who: username });
    expect(pair.user.id).not.toBe(user.id);
    expect(pair.user.username).toBe(`vouch|acme|${username}`);
  });

  it("whatever the subject, a first sight makes a user of its own that the next sight finds", async () => {
    const { tessera } = await engineWith();
    const local = await loggedIn(tessera);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 256 }),
        fc.constantFrom("", "acme"),
        async (who, issuer) => {
          const first = await tessera.loginWith("vouch", { issuer, who });
          const again = await tessera.loginWith("vouch", { issuer, who });
          expect(again.user.id).toBe(first.user.id);
          expect(first.user.id).not.toBe(local.user.id);
          expect(first.user.username).toMatch(/^vouch\|/);
          const key = JSON.stringify([issuer, who]);
          const known = seen.get(key);
          if (known !== undefined) expect(first.user.id).toBe(known);
          // Distinct identities never share a user.
          for (const [other, id] of seen) if (other !== key) expect(id).not.toBe(first.user.id);
          seen.set(key, first.user.id);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("subjects that differ only in case are two identities with two users", async () => {
    const { tessera } = await engineWith();
    const upper = await tessera.loginWith("vouch", { issuer: "acme", who: "Zoe" });
    const lower = await tessera.loginWith("vouch", { issuer: "acme", who: "zoe" });
    expect(lower.user.id).not.toBe(upper.user.id);
    // The readable names fold to one key, so the second gets the hashed form.
    expect(lower.user.username).toMatch(/^vouch\|~/);
  });

  it("of concurrent first sights of one identity, one user is made and all get it", async () => {
    const { tessera, store } = await engineWith();
    const pairs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        tessera.loginWith("vouch", { issuer: "acme", who: "racer" }, {}, {}).then((pair) => ({ pair, i })),
      ),
    );
    expect(new Set(pairs.map(({ pair }) => pair.user.id)).size).toBe(1);
    expect((await store.listUsers()).filter((user) => user.username === "vouch|acme|racer")).toHaveLength(1);
  });

  it("create: false refuses an unknown identity with invalid_credentials and makes no user", async () => {
    const { tessera, store } = await engineWith(vouching({ create: false }));
    expect(await codeOf(tessera.loginWith("vouch", { issuer: "acme", who: "nobody" }))).toBe(
      "invalid_credentials",
    );
    expect(await store.listUsers()).toEqual([]);
  });

  it("the beforeRegister hook sees the identity's username and may refuse; then nothing is made", async () => {
    const { tessera, store } = await engineWith();
    const seen: string[] = [];
    tessera.hook("beforeRegister", ({ username, source }) => {
      seen.push(`${source}:${username}`);
      if (username.endsWith("|blocked")) throw new TesseraError("forbidden", "Not this one.");
    });
    await tessera.loginWith("vouch", { issuer: "acme", who: "fine" });
    expect(await codeOf(tessera.loginWith("vouch", { issuer: "acme", who: "blocked" }))).toBe("forbidden");
    expect(seen).toEqual(["provider:vouch|acme|fine", "provider:vouch|acme|blocked"]);
    expect((await store.listUsers()).map((user) => user.username)).toEqual(["vouch|acme|fine"]);
  });

  it("adoptUnlinkedUser takes over a password-less, unlinked user of the subject's name — once", async () => {
    const { tessera, store } = await engineWith(vouching({ adoptUnlinkedUser: true }));
    const old = await tessera.createUser({ username: "olive", password: null });
    const adopted = await tessera.loginWith("vouch", { issuer: "acme", who: "olive" });
    expect(adopted.user).toEqual(old);
    expect(await tessera.listIdentities(old.id)).toEqual([
      { provider: "vouch", issuer: "acme", subject: "olive", userId: old.id, linkedAt: expect.any(String) },
    ]);
    await tessera.securityEventsSettled();
    const { events } = await tessera.listSecurityEvents({ userId: old.id, kinds: ["identity_linked"] });
    expect(events.map((event) => event.detail)).toEqual([
      { reason: "adopted", provider: "vouch", issuer: "acme", subject: "olive" },
    ]);
    // Linked now: another partner's "olive" is someone else.
    expect((await tessera.loginWith("vouch", { issuer: "globex", who: "olive" })).user.id).not.toBe(old.id);
    // A password user is never adopted.
    const { user, username } = await loggedIn(tessera);
    expect((await tessera.loginWith("vouch", { issuer: "acme", who: username })).user.id).not.toBe(user.id);
    expect((await store.findUserById(user.id))?.passwordHash).not.toBeNull();
  });
});

describe("linkIdentity / unlinkIdentity", () => {
  it("links an identity to an existing user; linking it again to them is a no-op", async () => {
    const { tessera } = await engineWith();
    const { user } = await loggedIn(tessera);
    const identity = { provider: "vouch", issuer: "acme", subject: "a-1" };
    const linked = await tessera.linkIdentity({ ...identity, userId: user.id });
    expect(linked).toEqual({ ...identity, userId: user.id, linkedAt: expect.any(String) });
    expect(await tessera.linkIdentity({ ...identity, userId: user.id })).toEqual(linked);
    expect((await tessera.loginWith("vouch", { issuer: "acme", who: "a-1" })).user).toEqual(user);
  });

  it("refuses an identity linked to another user, an unknown user and an empty subject", async () => {
    const { tessera } = await engineWith();
    const first = await loggedIn(tessera);
    const second = await loggedIn(tessera);
    const identity = { provider: "vouch", issuer: "acme", subject: "shared" };
    await tessera.linkIdentity({ ...identity, userId: first.user.id });
    expect(await codeOf(tessera.linkIdentity({ ...identity, userId: second.user.id }))).toBe(
      "invalid_request",
    );
    expect(await codeOf(tessera.linkIdentity({ ...identity, subject: "new", userId: 987_654 }))).toBe(
      "not_found",
    );
    expect(await codeOf(tessera.linkIdentity({ ...identity, subject: "", userId: first.user.id }))).toBe(
      "invalid_request",
    );
    expect((await tessera.loginWith("vouch", { issuer: "acme", who: "shared" })).user.id).toBe(first.user.id);
  });

  it("unlinking makes the next login a first sight; unlinking twice answers false", async () => {
    const { tessera } = await engineWith();
    const { user } = await loggedIn(tessera);
    const identity = { provider: "vouch", issuer: "acme", subject: "u-1" };
    await tessera.linkIdentity({ ...identity, userId: user.id });
    expect(await tessera.unlinkIdentity(identity)).toBe(true);
    expect(await tessera.unlinkIdentity(identity)).toBe(false);
    expect((await tessera.loginWith("vouch", { issuer: "acme", who: "u-1" })).user.id).not.toBe(user.id);
    // Both are in the user's security log, naming the identity.
    await tessera.securityEventsSettled();
    const { events } = await tessera.listSecurityEvents({
      userId: user.id,
      kinds: ["identity_linked", "identity_unlinked"],
    });
    expect(events.map((event) => [event.kind, event.detail]).reverse()).toEqual([
      ["identity_linked", { reason: "linked", ...identity }],
      ["identity_unlinked", { reason: "unlinked", ...identity }],
    ]);
  });

  it("re-authenticates the linked user's session, not another's, and makes nothing for an unknown identity", async () => {
    const { tessera, store } = await engineWith();
    const { user, pair } = await loggedIn(tessera);
    await tessera.linkIdentity({ provider: "vouch", issuer: "acme", subject: "me", userId: user.id });
    const fresh = await tessera.reauthenticate({
      sessionId: pair.sessionId,
      provider: "vouch",
      fields: { issuer: "acme", who: "me" },
    });
    expect(fresh.authMethods).toEqual(["vouch"]);
    const before = (await store.listUsers()).length;
    expect(
      await codeOf(
        tessera.reauthenticate({
          sessionId: pair.sessionId,
          provider: "vouch",
          fields: { issuer: "acme", who: "new" },
        }),
      ),
    ).toBe("invalid_credentials");
    expect(await store.listUsers()).toHaveLength(before);
  });
});
