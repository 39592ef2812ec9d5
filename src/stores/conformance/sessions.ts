/**
 * Conformance, part: Sessions: creation (with device replacement), lookups, listing, touching and session data.
 */

import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { CreateSessionInput, JsonValue, SessionRecord, SessionStore } from "../session-store.js";
import {
  DAY,
  denialOf,
  digest,
  type Fixture,
  HOUR,
  listen,
  only,
  revocationOf,
  waitForEvent,
} from "./fixture.js";

export function describeSessions(f: Fixture): void {
  const { addUser, newSession, addSession, upgrade } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  describe("sessions", () => {
    it("a created session reads back exactly, with its data, by id", async () => {
      const user = await addUser();
      const input = newSession(user.id, {
        deviceId: "phone",
        data: { cart: [1, "two", null], nested: { ok: true } },
      });
      const created = await store.createSession(input);
      const expected: SessionRecord = { ...input.session, revokedAt: null, revokedReason: null };
      expect(created).toEqual({ session: expected, replaced: [] });
      expect(await store.getSession(input.session.id)).toEqual(expected);
    });

    it("the store keeps its own copy of session data", async () => {
      const user = await addUser();
      const data = { tags: ["a"] };
      const input = newSession(user.id, { data });
      const { session } = await store.createSession(input);
      data.tags.push("changed after create");
      const read = await store.getSession(session.id);
      if (read !== null) (read.data as { tags: string[] }).tags.push("changed after read");
      expect((await store.getSession(session.id))?.data).toEqual({ tags: ["a"] });
    });

    it("an unknown session id gives null", async () => {
      expect(await store.getSession(randomUUID())).toBeNull();
    });

    it("creating a session for an unknown user rejects", async () => {
      await expect(store.createSession(newSession(987_654))).rejects.toThrow();
    });

    it("creating a session with an existing id rejects and replaces nothing", async () => {
      const user = await addUser();
      const { session: first } = await addSession(user.id, { deviceId: "phone" });
      const clash = newSession(user.id, { deviceId: "phone", createdAt: t0 + 1 });
      const input: CreateSessionInput = {
        session: { ...clash.session, id: first.id },
        refreshToken: { ...clash.refreshToken, sessionId: first.id },
      };
      await expect(store.createSession(input)).rejects.toThrow();
      expect(await store.getSession(first.id)).toEqual(first);
    });

    it("a session with a device revokes the other live sessions of that user and device", async () => {
      const user = await addUser();
      const otherUser = await addUser();
      // Created first: as the newer session of the device it would otherwise replace `old`.
      const { session: ended } = await addSession(user.id, {
        deviceId: "phone",
        createdAt: t0 - 2 * DAY,
        expiresAt: t0 - DAY,
      });
      const { session: old } = await addSession(user.id, { deviceId: "phone" });
      const { session: otherDevice } = await addSession(user.id, { deviceId: "laptop" });
      const { session: noDevice } = await addSession(user.id);
      const { session: otherUsers } = await addSession(otherUser.id, { deviceId: "phone" });

      const input = newSession(user.id, { deviceId: "phone", createdAt: t0 + 1000 });
      const { replaced } = await store.createSession(input);

      expect(replaced).toEqual([old.id]);
      expect(await store.getSession(old.id)).toEqual({
        ...old,
        revokedAt: t0 + 1000,
        revokedReason: "device_replaced",
      });
      expect(await store.listDenylist(t0)).toContainEqual({
        id: `sid:${old.id}`,
        expiresAt: old.expiresAt,
      });
      for (const untouched of [ended, otherDevice, noDevice, otherUsers]) {
        expect(await store.getSession(untouched.id)).toEqual(untouched);
      }
    });

    it("replacing a device session emits session_revoked and denied events", async () => {
      const user = await addUser();
      const { session: old } = await addSession(user.id, { deviceId: "phone" });
      const listener = listen(store);
      await store.createSession(newSession(user.id, { deviceId: "phone", createdAt: t0 + 1 }));
      expect(await waitForEvent(listener.events, revocationOf(old.id))).toEqual({
        kind: "session_revoked",
        sessionId: old.id,
        userId: user.id,
        reason: "device_replaced",
      });
      expect(await waitForEvent(listener.events, denialOf(`sid:${old.id}`))).toEqual({
        kind: "denied",
        entry: { id: `sid:${old.id}`, expiresAt: old.expiresAt },
      });
    });

    it("sessions without a device replace nothing", async () => {
      const user = await addUser();
      const { session: first } = await addSession(user.id);
      const { replaced } = await store.createSession(newSession(user.id, { createdAt: t0 + 1 }));
      expect(replaced).toEqual([]);
      expect((await store.getSession(first.id))?.revokedAt).toBeNull();
    });

    it("of concurrent creates for one device exactly one session stays live", async () => {
      const user = await addUser();
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.createSession(newSession(user.id, { deviceId: "tablet", createdAt: t0 + i })),
        ),
      );
      const live = await store.listSessions(user.id, t0 + 10);
      only(live, "live session");
      const replaced = results.flatMap((result) => result.replaced);
      expect(new Set(replaced).size).toBe(4);
      expect(replaced).not.toContain(live[0]?.id);
    });

    it("findSessionByTokenHash finds an upgraded session, even after it is revoked", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const input = upgrade(session.id);
      await store.upgradeSession(input);
      expect((await store.findSessionByTokenHash(input.sessionTokenHash))?.id).toBe(session.id);
      await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
      const found = await store.findSessionByTokenHash(input.sessionTokenHash);
      expect(found?.id).toBe(session.id);
      expect(found?.revokedAt).toBe(t0);
    });

    it("findSessionByTokenHash gives null for an unknown digest", async () => {
      expect(await store.findSessionByTokenHash(digest())).toBeNull();
    });

    it("listSessions returns only the user's live sessions, newest first", async () => {
      const user = await addUser();
      const otherUser = await addUser();
      const { session: oldest } = await addSession(user.id, { createdAt: t0 - 3000 });
      const { session: newest } = await addSession(user.id, { createdAt: t0 - 1000 });
      const { session: middle } = await addSession(user.id, { createdAt: t0 - 2000 });
      const { session: revoked } = await addSession(user.id, { createdAt: t0 - 500 });
      await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
      await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
      await addSession(otherUser.id);
      const listed = await store.listSessions(user.id, t0);
      expect(listed.map((s) => s.id)).toEqual([newest.id, middle.id, oldest.id]);
      expect(listed[0]).toEqual(newest);
      expect(await store.listSessions(987_654, t0)).toEqual([]);
    });

    it("listAllSessions returns the live sessions of every user, newest first, up to the limit", async () => {
      const alice = await addUser();
      const bob = await addUser();
      const { session: a1 } = await addSession(alice.id, { createdAt: t0 - 3000 });
      const { session: b1 } = await addSession(bob.id, { createdAt: t0 - 2000 });
      const { session: a2 } = await addSession(alice.id, { createdAt: t0 - 1000 });
      await addSession(bob.id, { createdAt: t0 - DAY, expiresAt: t0 - 1 });
      const all = await store.listAllSessions(t0);
      expect(all.map((s) => s.id)).toEqual([a2.id, b1.id, a1.id]);
      expect((await store.listAllSessions(t0, { limit: 2 })).map((s) => s.id)).toEqual([a2.id, b1.id]);
    });

    it("touchSession only ever moves lastSeenAt forward", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      await store.touchSession(session.id, t0 + 5000);
      expect((await store.getSession(session.id))?.lastSeenAt).toBe(t0 + 5000);
      await store.touchSession(session.id, t0 + 1000);
      expect((await store.getSession(session.id))?.lastSeenAt).toBe(t0 + 5000);
    });

    it("touching an unknown session does nothing", async () => {
      await expect(store.touchSession(randomUUID(), t0)).resolves.toBeUndefined();
    });

    it("updateSessionData replaces the data of a live session and emits session_updated", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id, { data: { theme: "light", extra: 1 } });
      const listener = listen(store);
      const data: JsonValue = { theme: "dark", emoji: "🔑", list: [1, 2.5, null, false] };
      const updated = await store.updateSessionData(session.id, data, t0);
      expect(updated).toEqual({ ...session, data });
      expect(await store.getSession(session.id)).toEqual({ ...session, data });
      expect(await waitForEvent(listener.events, (e) => e.kind === "session_updated")).toEqual({
        kind: "session_updated",
        sessionId: session.id,
      });
    });

    it("updateSessionData gives null for revoked, expired and unknown sessions", async () => {
      const user = await addUser();
      const { session: revoked } = await addSession(user.id);
      await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
      const { session: expired } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
      expect(await store.updateSessionData(revoked.id, { x: 1 }, t0)).toBeNull();
      expect(await store.updateSessionData(expired.id, { x: 1 }, t0)).toBeNull();
      expect(await store.updateSessionData(randomUUID(), { x: 1 }, t0)).toBeNull();
      expect((await store.getSession(revoked.id))?.data).toEqual({ role: "member" });
    });
  });
}
