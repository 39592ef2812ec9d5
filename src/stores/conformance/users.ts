/**
 * Conformance, part: Users: creation, the uniqueness of username keys under concurrency, lookups and listing.
 */

import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { SessionStore, UserRecord } from "../session-store.js";
import { type Fixture, only, RACERS } from "./fixture.js";

export function describeUsers(f: Fixture): void {
  const { newUser, addUser } = f;
  let store: SessionStore;
  beforeEach(() => {
    store = f.store;
  });

  describe("users", () => {
    it("a created user gets a positive integer id and is found by key and by id", async () => {
      const input = newUser();
      const user = await store.createUser(input);
      expect(user).toEqual({ ...input, id: expect.any(Number), disabledAt: null });
      expect(Number.isInteger(user?.id) && (user?.id ?? 0) > 0).toBe(true);
      expect(await store.findUserByUsernameKey(input.usernameKey)).toEqual(user);
      expect(await store.findUserById(user?.id ?? 0)).toEqual(user);
    });

    it("a user without a password keeps a null password hash", async () => {
      const user = await store.createUser(newUser({ passwordHash: null }));
      expect((await store.findUserById(user?.id ?? 0))?.passwordHash).toBeNull();
    });

    it("creating a user with a taken username key returns null and keeps the first user", async () => {
      const first = await addUser();
      const second = await store.createUser(newUser({ usernameKey: first.usernameKey, username: "Other" }));
      expect(second).toBeNull();
      expect(await store.findUserByUsernameKey(first.usernameKey)).toEqual(first);
    });

    it("of twenty concurrent creates with one username key exactly one succeeds", async () => {
      const key = `racer-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: RACERS }, () => store.createUser(newUser({ usernameKey: key }))),
      );
      const winner = only(
        results.filter((user) => user !== null),
        "created user",
      );
      expect(await store.findUserByUsernameKey(key)).toEqual(winner);
    });

    it("looking up an unknown user gives null", async () => {
      expect(await store.findUserByUsernameKey("nobody")).toBeNull();
      expect(await store.findUserById(987_654)).toBeNull();
    });

    it("listUsers returns users in id order and honours limit and offset", async () => {
      const users: UserRecord[] = [];
      for (let i = 0; i < 5; i++) users.push(await addUser());
      expect(await store.listUsers()).toEqual(users);
      expect(await store.listUsers({ limit: 2, offset: 1 })).toEqual(users.slice(1, 3));
      expect(await store.listUsers({ offset: 4 })).toEqual(users.slice(4));
      expect(await store.listUsers({ limit: 0 })).toEqual([]);
    });
  });
}
