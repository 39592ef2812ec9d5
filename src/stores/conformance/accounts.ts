/**
 * Conformance, part: account lifecycle — replacing a password hash, disabling and enabling a
 * user (which ends their sessions), and deleting a user (sessions stay as tombstones).
 */

import { beforeEach, describe, expect, it } from "vitest";
import type { SessionStore, StoreEvent } from "../session-store.js";
import { endOf, type Fixture, HOUR, listen, securityEvent, waitForEvent } from "./fixture.js";

const userUpdate =
  (userId: number) =>
  (event: StoreEvent): boolean =>
    event.kind === "user_updated" && event.userId === userId;

export function describeAccounts(f: Fixture): void {
  const { addUser, newUser, addSession, newSession, newLink, upgrade, rotation } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  describe("password hashes", () => {
    it("setPasswordHash replaces the hash and emits user_updated", async () => {
      const user = await addUser();
      const listener = listen(store);
      expect(await store.setPasswordHash(user.id, "$argon2id$new")).toBe(true);
      expect(await store.findUserById(user.id)).toEqual({ ...user, passwordHash: "$argon2id$new" });
      await waitForEvent(listener.events, userUpdate(user.id));
      listener.stop();
    });

    it("setPasswordHash of an unknown user gives false", async () => {
      expect(await store.setPasswordHash(987_654, "$argon2id$new")).toBe(false);
    });
  });

  describe("disabling and enabling users", () => {
    it("disableUser marks the user, revokes their live sessions as user_disabled and returns them", async () => {
      const user = await addUser();
      const other = await addUser();
      const { session: one } = await addSession(user.id);
      const { session: two } = await addSession(user.id, { createdAt: t0 - 1000 });
      const { session: ended } = await addSession(user.id, {
        createdAt: t0 - 2 * HOUR,
        expiresAt: t0 - HOUR,
      });
      const { session: others } = await addSession(other.id);
      const listener = listen(store);

      const revoked = await store.disableUser(user.id, t0 + 10, t0 + HOUR);

      const expected = [one, two].map((s) => ({ ...s, revokedAt: t0 + 10, revokedReason: "user_disabled" }));
      expect(revoked).toEqual(expect.arrayContaining(expected));
      expect(revoked).toHaveLength(2);
      expect((await store.findUserById(user.id))?.disabledAt).toBe(t0 + 10);
      expect(await store.listSessions(user.id, t0 + 10)).toEqual([]);
      expect(await store.getSession(ended.id)).toEqual(ended);
      expect(await store.getSession(others.id)).toEqual(others);
      const denied = (await store.listDenylist(t0 + 10)).map((entry) => entry.id);
      expect(denied).toEqual(expect.arrayContaining([`sid:${one.id}`, `sid:${two.id}`]));
      await waitForEvent(listener.events, userUpdate(user.id));
      await waitForEvent(listener.events, endOf(one.id, user.id));
      await waitForEvent(listener.events, endOf(two.id, user.id));
      listener.stop();
    });

    it("disabling twice keeps the first disabledAt and revokes nothing more", async () => {
      const user = await addUser();
      await store.disableUser(user.id, t0, t0 + HOUR);
      expect(await store.disableUser(user.id, t0 + 5000, t0 + HOUR)).toEqual([]);
      expect((await store.findUserById(user.id))?.disabledAt).toBe(t0);
    });

    it("enableUser clears disabledAt, emits user_updated and leaves the ended sessions ended", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      await store.disableUser(user.id, t0, t0 + HOUR);
      const listener = listen(store);
      expect(await store.enableUser(user.id)).toBe(true);
      expect(await store.findUserById(user.id)).toEqual({ ...user, disabledAt: null });
      expect((await store.getSession(session.id))?.revokedReason).toBe("user_disabled");
      await waitForEvent(listener.events, userUpdate(user.id));
      listener.stop();
    });

    it("disabling or enabling an unknown user gives null or false", async () => {
      expect(await store.disableUser(987_654, t0, t0 + HOUR)).toBeNull();
      expect(await store.enableUser(987_654)).toBe(false);
    });
  });

  describe("deleting users", () => {
    it("deleteUser revokes the sessions as user_deleted and frees the username", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id, { data: { secret: "notes" } });
      const listener = listen(store);
      const revoked = await store.deleteUser(user.id, t0 + 10, t0 + HOUR);
      expect(revoked).toEqual([
        { ...session, data: null, revokedAt: t0 + 10, revokedReason: "user_deleted" },
      ]);
      expect(await store.findUserById(user.id)).toBeNull();
      expect(await store.findUserByUsernameKey(user.usernameKey)).toBeNull();
      expect(await store.listUsers()).toEqual([]);
      const again = await store.createUser(newUser({ usernameKey: user.usernameKey }));
      expect(again?.id).not.toBe(user.id);
      expect((await store.listDenylist(t0 + 10)).map((entry) => entry.id)).toContain(`sid:${session.id}`);
      await waitForEvent(listener.events, userUpdate(user.id));
      await waitForEvent(listener.events, endOf(session.id, user.id));
      listener.stop();
    });

    it("a deleted user's sessions stay as tombstones without data and their tokens find them revoked", async () => {
      const user = await addUser();
      const { session: live, refreshHash } = await addSession(user.id, { data: { secret: 1 } });
      const up = upgrade(live.id);
      await store.upgradeSession(up);
      const { session: earlier } = await addSession(user.id, { data: { secret: 2 } });
      await store.revokeSessions([earlier.id], "logout", t0, t0 + HOUR);
      await store.deleteUser(user.id, t0 + 10, t0 + HOUR);

      const tombstone = await store.getSession(live.id);
      expect(tombstone).toMatchObject({
        id: live.id,
        revokedAt: t0 + 10,
        revokedReason: "user_deleted",
        data: null,
      });
      expect(await store.getSession(earlier.id)).toMatchObject({ revokedReason: "logout", data: null });
      expect((await store.findSessionByTokenHash(up.sessionTokenHash))?.revokedAt).toBe(t0 + 10);
      expect((await store.rotateRefreshToken(rotation(up.refreshToken.hash))).kind).toBe("revoked");
      expect((await store.rotateRefreshToken(rotation(refreshHash))).kind).toBe("revoked");
    });

    it("deleteUser removes the user's links and username counter but keeps their security events", async () => {
      const user = await addUser();
      const link = newLink(user.id);
      await store.createLink(link);
      await store.recordFailure(`u:${user.usernameKey}`, t0, HOUR);
      const event = securityEvent(t0, { userId: user.id, usernameKey: user.usernameKey });
      await store.appendSecurityEvent(event);
      await store.deleteUser(user.id, t0 + 10, t0 + HOUR);
      expect(await store.peekLink(link.hash)).toBeNull();
      expect(await store.readFailures(`u:${user.usernameKey}`, t0 + 10, HOUR)).toBeNull();
      expect(await store.listSecurityEvents({ userId: user.id, limit: 10 })).toEqual([event]);
    });

    it("no session can be created for a deleted user, and deleting twice gives null", async () => {
      const user = await addUser();
      await store.deleteUser(user.id, t0, t0 + HOUR);
      await expect(store.createSession(newSession(user.id))).rejects.toThrow();
      expect(await store.deleteUser(user.id, t0, t0 + HOUR)).toBeNull();
    });
  });
}
