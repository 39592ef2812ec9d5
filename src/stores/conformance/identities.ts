/**
 * Conformance, part: Provider identities: (provider, issuer, subject) → user, unique under
 * concurrency, linked and unlinked, created together with their user, gone with a deleted user.
 */

import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { IdentityKey, IdentityRecord, SessionStore } from "../session-store.js";
import { type Fixture, HOUR, only, RACERS } from "./fixture.js";

export function describeIdentities(f: Fixture): void {
  const { newUser, addUser } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  const key = (overrides: Partial<IdentityKey> = {}): IdentityKey => ({
    provider: "signed-payload",
    issuer: "acme",
    subject: `sub-${randomUUID()}`,
    ...overrides,
  });
  const record = (userId: number, identity: IdentityKey = key(), createdAt = t0): IdentityRecord => ({
    ...identity,
    userId,
    createdAt,
  });

  describe("provider identities", () => {
    it("a linked identity is found by its key and listed under its user", async () => {
      const user = await addUser();
      const identity = record(user.id);
      expect(await store.linkIdentity(identity)).toEqual({ kind: "linked", identity });
      expect(await store.findIdentity(identity)).toEqual(identity);
      expect(await store.listIdentities(user.id)).toEqual([identity]);
    });

    it("an unknown identity is not found, and a user without identities lists none", async () => {
      const user = await addUser();
      expect(await store.findIdentity(key())).toBeNull();
      expect(await store.listIdentities(user.id)).toEqual([]);
    });

    it("the key is unique: linking it again, to any user, answers taken and changes nothing", async () => {
      const first = await addUser();
      const second = await addUser();
      const identity = record(first.id);
      await store.linkIdentity(identity);
      expect(await store.linkIdentity(record(second.id, identity, t0 + 5))).toEqual({
        kind: "taken",
        identity,
      });
      expect(await store.linkIdentity(record(first.id, identity, t0 + 5))).toEqual({
        kind: "taken",
        identity,
      });
      expect(await store.findIdentity(identity)).toEqual(identity);
      expect(await store.listIdentities(second.id)).toEqual([]);
    });

    it("every part of the key counts, byte for byte: case and separators make other identities", async () => {
      const user = await addUser();
      const base = { provider: "p", issuer: "a:b", subject: "c" };
      const others = [
        { provider: "p", issuer: "a", subject: "b:c" },
        { provider: "p", issuer: "a:b", subject: "C" },
        { provider: "P", issuer: "a:b", subject: "c" },
        { provider: "p", issuer: "", subject: "a:b:c" },
        { provider: "p", issuer: "a:b", subject: "c\u0301" },
      ];
      expect((await store.linkIdentity(record(user.id, base))).kind).toBe("linked");
      for (const other of others) {
        expect((await store.linkIdentity(record(user.id, other))).kind).toBe("linked");
        expect(await store.findIdentity(other)).toEqual(record(user.id, other));
      }
      expect(await store.listIdentities(user.id)).toHaveLength(others.length + 1);
    });

    it("of twenty concurrent links of one identity to different users exactly one wins", async () => {
      const users = await Promise.all(Array.from({ length: RACERS }, () => addUser()));
      const identity = key();
      const outcomes = await Promise.all(users.map((user) => store.linkIdentity(record(user.id, identity))));
      const winner = only(
        outcomes.filter((outcome) => outcome.kind === "linked"),
        "linked identity",
      );
      for (const outcome of outcomes) {
        if (outcome.kind !== "linked") expect(outcome).toEqual({ kind: "taken", identity: winner.identity });
      }
      expect(await store.findIdentity(identity)).toEqual(winner.identity);
    });

    it("unlinking removes the identity once; it can then be linked to another user", async () => {
      const first = await addUser();
      const second = await addUser();
      const identity = record(first.id);
      await store.linkIdentity(identity);
      expect(await store.unlinkIdentity(identity)).toBe(true);
      expect(await store.unlinkIdentity(identity)).toBe(false);
      expect(await store.findIdentity(identity)).toBeNull();
      expect(await store.listIdentities(first.id)).toEqual([]);
      const relinked = record(second.id, identity, t0 + 1);
      expect(await store.linkIdentity(relinked)).toEqual({ kind: "linked", identity: relinked });
      expect(await store.listIdentities(second.id)).toEqual([relinked]);
    });

    it("a user's identities are listed oldest first", async () => {
      const user = await addUser();
      const late = record(user.id, key({ subject: "a" }), t0 + 20);
      const early = record(user.id, key({ subject: "b" }), t0 + 10);
      const sameTime = record(user.id, key({ subject: "c" }), t0 + 10);
      for (const identity of [late, sameTime, early]) await store.linkIdentity(identity);
      expect(await store.listIdentities(user.id)).toEqual([early, sameTime, late]);
    });

    it("linking to an unknown user answers no_user and writes nothing", async () => {
      const identity = record(987_654);
      expect(await store.linkIdentity(identity)).toEqual({ kind: "no_user" });
      expect(await store.findIdentity(identity)).toBeNull();
    });

    it("deleting a user removes their identities; linking to the deleted user answers no_user", async () => {
      const user = await addUser();
      const other = await addUser();
      const mine = record(user.id);
      const theirs = record(other.id);
      await store.linkIdentity(mine);
      await store.linkIdentity(theirs);
      await store.deleteUser(user.id, t0 + 10, t0 + HOUR);
      expect(await store.findIdentity(mine)).toBeNull();
      expect(await store.listIdentities(user.id)).toEqual([]);
      expect(await store.linkIdentity(record(user.id, key()))).toEqual({ kind: "no_user" });
      expect(await store.findIdentity(theirs)).toEqual(theirs);
      // The identity is free again: the next user it is linked to is a new one.
      const next = await addUser();
      expect((await store.linkIdentity(record(next.id, mine))).kind).toBe("linked");
    });

    it("createUserWithIdentity creates the user and links the identity in one step", async () => {
      const input = newUser({ passwordHash: null });
      const identity = key();
      const user = await store.createUserWithIdentity(input, identity);
      expect(user).toEqual({ ...input, id: expect.any(Number), disabledAt: null });
      const id = user?.id ?? 0;
      expect(await store.findUserById(id)).toEqual(user);
      expect(await store.findIdentity(identity)).toEqual(record(id, identity, input.createdAt));
      expect(await store.listIdentities(id)).toEqual([record(id, identity, input.createdAt)]);
    });

    it("createUserWithIdentity writes nothing when the identity or the username key is taken", async () => {
      const holder = await addUser();
      const identity = record(holder.id);
      await store.linkIdentity(identity);
      const blocked = newUser();
      expect(await store.createUserWithIdentity(blocked, identity)).toBeNull();
      expect(await store.findUserByUsernameKey(blocked.usernameKey)).toBeNull();
      expect(await store.findIdentity(identity)).toEqual(identity);

      const fresh = key();
      expect(
        await store.createUserWithIdentity(newUser({ usernameKey: holder.usernameKey }), fresh),
      ).toBeNull();
      expect(await store.findIdentity(fresh)).toBeNull();
      expect(await store.listUsers()).toEqual([holder]);
    });

    it("of twenty concurrent first sights of one identity exactly one user is created", async () => {
      const identity = key();
      const results = await Promise.all(
        Array.from({ length: RACERS }, () => store.createUserWithIdentity(newUser(), identity)),
      );
      const winner = only(
        results.filter((user) => user !== null),
        "created user",
      );
      expect((await store.findIdentity(identity))?.userId).toBe(winner.id);
      expect(await store.listUsers()).toEqual([winner]);
    });
  });
}
