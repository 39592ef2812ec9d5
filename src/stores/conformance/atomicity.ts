/**
 * Conformance, part: the v2 guarantees about sessions — revoke-all (atomic against logins
 * running at the same time), fresh proofs of identity, the absolute cap on expiry, no update
 * resurrecting an ended session, and an event for every change that makes a cache stale.
 */

import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { SessionRecord, SessionStore } from "../session-store.js";
import {
  DAY,
  digest,
  endOf,
  type Fixture,
  HOUR,
  listen,
  MINUTE,
  RACERS,
  updateOf,
  waitForEvent,
} from "./fixture.js";

export function describeAtomicity(f: Fixture): void {
  const { addUser, addSession, newSession, rotation, upgrade } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  const reissueInput = (sessionId: string, now: number, expiresAt: number) => ({
    sessionId,
    refreshToken: { hash: digest(), createdAt: now, expiresAt },
    sessionTokenHash: digest(),
    expiresAt,
    now,
  });

  describe("revoking every session of a user", () => {
    it("revokeUserSessions revokes the user's live sessions, denylists them and returns them", async () => {
      const user = await addUser();
      const other = await addUser();
      const { session: one } = await addSession(user.id);
      const { session: two } = await addSession(user.id, { deviceId: "phone", createdAt: t0 - 1000 });
      const { session: ended } = await addSession(user.id, {
        createdAt: t0 - 2 * HOUR,
        expiresAt: t0 - HOUR,
      });
      const { session: earlier } = await addSession(user.id);
      await store.revokeSessions([earlier.id], "logout", t0 - 5, t0 + HOUR);
      const { session: others } = await addSession(other.id);
      const listener = listen(store);

      const revoked = await store.revokeUserSessions({
        userId: user.id,
        reason: "logout_all",
        now: t0,
        denyUntil: t0 + HOUR,
      });

      const expected = [one, two].map((s) => ({ ...s, revokedAt: t0, revokedReason: "logout_all" }));
      expect(revoked).toHaveLength(2);
      expect(revoked).toEqual(expect.arrayContaining(expected));
      expect(await store.listSessions(user.id, t0)).toEqual([]);
      expect(await store.getSession(ended.id)).toEqual(ended);
      expect((await store.getSession(earlier.id))?.revokedReason).toBe("logout");
      expect(await store.getSession(others.id)).toEqual(others);
      const denylist = await store.listDenylist(t0);
      expect(denylist).toContainEqual({ id: `sid:${one.id}`, expiresAt: t0 + HOUR });
      expect(denylist).toContainEqual({ id: `sid:${two.id}`, expiresAt: t0 + HOUR });
      await waitForEvent(listener.events, endOf(one.id, user.id));
      await waitForEvent(listener.events, endOf(two.id, user.id));
      listener.stop();
    });

    it("revokeUserSessions leaves keepSessionId live", async () => {
      const user = await addUser();
      const { session: keep } = await addSession(user.id);
      const { session: drop } = await addSession(user.id);
      const revoked = await store.revokeUserSessions({
        userId: user.id,
        reason: "password_changed",
        now: t0,
        denyUntil: t0 + HOUR,
        keepSessionId: keep.id,
      });
      expect(revoked.map((s) => s.id)).toEqual([drop.id]);
      expect((await store.listSessions(user.id, t0)).map((s) => s.id)).toEqual([keep.id]);
      expect((await store.listDenylist(t0)).map((entry) => entry.id)).not.toContain(`sid:${keep.id}`);
    });

    it("revoking the sessions of a user without any returns nothing", async () => {
      const user = await addUser();
      const input = { userId: user.id, reason: "logout_all", now: t0, denyUntil: t0 + HOUR };
      expect(await store.revokeUserSessions(input)).toEqual([]);
      expect(await store.revokeUserSessions({ ...input, userId: 987_654 })).toEqual([]);
    });

    it("against twenty concurrent logins, every session ends up either revoked by it or live and listed", async () => {
      const user = await addUser();
      await addSession(user.id);
      const inputs = Array.from({ length: RACERS }, (_, i) => newSession(user.id, { createdAt: t0 + i }));
      // The revocation is issued in the middle of the logins, not before or after all of them.
      const first = inputs.slice(0, RACERS / 2).map((input) => store.createSession(input));
      const revokeAll = store.revokeUserSessions({
        userId: user.id,
        reason: "logout_all",
        now: t0 + RACERS,
        denyUntil: t0 + HOUR,
      });
      const second = inputs.slice(RACERS / 2).map((input) => store.createSession(input));
      const [revoked] = await Promise.all([revokeAll, ...first, ...second]);
      const revokedIds = new Set(revoked.map((s) => s.id));
      const listed = new Set((await store.listSessions(user.id, t0 + RACERS)).map((s) => s.id));
      for (const input of inputs) {
        const id = input.session.id;
        const record = await store.getSession(id);
        expect(revokedIds.has(id) !== listed.has(id)).toBe(true);
        expect(record?.revokedAt !== null).toBe(revokedIds.has(id));
      }
    });
  });

  describe("fresh proofs of identity", () => {
    it("markAuthenticated records when and how, returns the session and emits session_updated", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id, { deviceName: "Ada's phone" });
      expect(session.deviceName).toBe("Ada's phone");
      const listener = listen(store);
      const updated = await store.markAuthenticated(session.id, t0 + 500, ["pwd", "otp"], t0 + 500);
      const expected: SessionRecord = { ...session, authenticatedAt: t0 + 500, authMethods: ["pwd", "otp"] };
      expect(updated).toEqual(expected);
      expect(await store.getSession(session.id)).toEqual(expected);
      await waitForEvent(listener.events, updateOf(session.id));
      listener.stop();
    });

    it("markAuthenticated gives null for revoked, expired and unknown sessions", async () => {
      const user = await addUser();
      const { session: revoked } = await addSession(user.id);
      await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
      const { session: expired } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
      for (const id of [revoked.id, expired.id, randomUUID()]) {
        expect(await store.markAuthenticated(id, t0, ["pwd"], t0)).toBeNull();
      }
      expect((await store.getSession(expired.id))?.authenticatedAt).toBe(t0 - DAY);
    });
  });

  describe("the absolute lifetime", () => {
    it("rotation never moves expiresAt past maxExpiresAt", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id, {
        expiresAt: t0 + HOUR,
        maxExpiresAt: t0 + 2 * HOUR,
      });
      const outcome = await store.rotateRefreshToken(rotation(refreshHash, { expiresAt: t0 + DAY }));
      expect(outcome).toEqual({ kind: "rotated", session: { ...session, expiresAt: t0 + 2 * HOUR } });
      expect((await store.getSession(session.id))?.expiresAt).toBe(t0 + 2 * HOUR);
    });

    it("reissue never moves expiresAt past maxExpiresAt", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id, { expiresAt: t0 + HOUR, maxExpiresAt: t0 + 2 * HOUR });
      const reissued = await store.reissueSession(reissueInput(session.id, t0, t0 + DAY));
      expect(reissued?.expiresAt).toBe(t0 + 2 * HOUR);
      expect((await store.getSession(session.id))?.expiresAt).toBe(t0 + 2 * HOUR);
    });

    it("an expiry inside the cap is applied as given", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id, {
        expiresAt: t0 + HOUR,
        maxExpiresAt: t0 + DAY,
      });
      const outcome = await store.rotateRefreshToken(rotation(refreshHash, { expiresAt: t0 + 3 * HOUR }));
      expect(outcome.kind === "rotated" && outcome.session.expiresAt).toBe(t0 + 3 * HOUR);
      expect((await store.getSession(session.id))?.maxExpiresAt).toBe(t0 + DAY);
    });
  });

  describe("no update resurrects an ended session", () => {
    it("touch, data, proof, rotation and reissue of a revoked session change nothing", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      await store.revokeSessions([session.id], "logout", t0 + 1, t0 + HOUR);
      const ended = await store.getSession(session.id);

      await store.touchSession(session.id, t0 + MINUTE);
      expect(await store.updateSessionData(session.id, { back: true }, t0 + 2)).toBeNull();
      expect(await store.markAuthenticated(session.id, t0 + 3, ["pwd"], t0 + 3)).toBeNull();
      expect((await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 4 }))).kind).toBe("revoked");
      expect(await store.reissueSession(reissueInput(session.id, t0 + 5, t0 + DAY))).toBeNull();
      expect(await store.upgradeSession(upgrade(session.id, { now: t0 + 6 }))).toEqual({ kind: "not_live" });

      expect(await store.getSession(session.id)).toEqual(ended);
      expect(await store.listSessions(user.id, t0 + 7)).toEqual([]);
    });

    it("updates of a deleted user's session change nothing", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      await store.deleteUser(user.id, t0 + 1, t0 + HOUR);
      const ended = await store.getSession(session.id);
      await store.touchSession(session.id, t0 + MINUTE);
      expect(await store.updateSessionData(session.id, { back: true }, t0 + 2)).toBeNull();
      expect(await store.markAuthenticated(session.id, t0 + 3, ["pwd"], t0 + 3)).toBeNull();
      expect((await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 4 }))).kind).toBe("revoked");
      expect(await store.reissueSession(reissueInput(session.id, t0 + 5, t0 + DAY))).toBeNull();
      expect(await store.getSession(session.id)).toEqual(ended);
    });

    it("touching an unknown session creates nothing", async () => {
      const id = randomUUID();
      await store.touchSession(id, t0);
      expect(await store.getSession(id)).toBeNull();
    });
  });

  describe("events for every change a cache holds", () => {
    it("rotation emits session_updated", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const listener = listen(store);
      await store.rotateRefreshToken(rotation(refreshHash));
      await waitForEvent(listener.events, updateOf(session.id));
      listener.stop();
    });

    it("reissue emits session_updated", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const listener = listen(store);
      await store.reissueSession(reissueInput(session.id, t0, t0 + DAY));
      await waitForEvent(listener.events, updateOf(session.id));
      listener.stop();
    });

    it("an upgrade emits session_updated besides the jti denial", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const listener = listen(store);
      await store.upgradeSession(upgrade(session.id));
      await waitForEvent(listener.events, updateOf(session.id));
      listener.stop();
    });

    it("a refusal emits nothing: a spent token replayed gives no session_updated", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const { session: marker } = await addSession(user.id);
      await store.rotateRefreshToken(rotation(refreshHash));
      const listener = listen(store);
      await store.rotateRefreshToken(rotation(refreshHash));
      // Events arrive in order, so once the marker's arrives the replay's would have too.
      await store.updateSessionData(marker.id, { marker: true }, t0);
      await waitForEvent(listener.events, updateOf(marker.id));
      expect(listener.events.filter(updateOf(session.id))).toEqual([]);
      listener.stop();
    });
  });
}
