/**
 * Conformance, part: Revoking sessions and the access-JWT denylist.
 */

import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { SessionStore } from "../session-store.js";
import { DAY, denialOf, type Fixture, HOUR, listen, revocationOf, waitForEvent } from "./fixture.js";

export function describeRevocation(f: Fixture): void {
  const { addUser, addSession } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  describe("revocation and the denylist", () => {
    it("revokeSessions revokes, denylists each sid until denyUntil and returns what it revoked", async () => {
      const user = await addUser();
      const { session: one } = await addSession(user.id);
      const { session: two } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 - 1 });
      const revoked = await store.revokeSessions([one.id, two.id, one.id], "logout_all", t0, t0 + HOUR);
      const expected = [one, two].map((s) => ({ ...s, revokedAt: t0, revokedReason: "logout_all" }));
      expect(revoked).toEqual(expected);
      expect(await store.getSession(one.id)).toEqual(expected[0]);
      expect(await store.getSession(two.id)).toEqual(expected[1]);
      const denylist = await store.listDenylist(t0);
      expect(denylist).toContainEqual({ id: `sid:${one.id}`, expiresAt: t0 + HOUR });
      expect(denylist).toContainEqual({ id: `sid:${two.id}`, expiresAt: t0 + HOUR });
    });

    it("revoking again leaves revoked sessions as they were and unknown ids are ignored", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
      const again = await store.revokeSessions([session.id, randomUUID()], "admin", t0 + 5000, t0 + DAY);
      expect(again).toEqual([]);
      expect(await store.getSession(session.id)).toMatchObject({ revokedAt: t0, revokedReason: "logout" });
    });

    it("revocation emits session_revoked with the user and reason, and denied for the sid", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const listener = listen(store);
      await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
      expect(await waitForEvent(listener.events, revocationOf(session.id))).toEqual({
        kind: "session_revoked",
        sessionId: session.id,
        userId: user.id,
        reason: "logout",
      });
      expect(await waitForEvent(listener.events, denialOf(`sid:${session.id}`))).toEqual({
        kind: "denied",
        entry: { id: `sid:${session.id}`, expiresAt: t0 + HOUR },
      });
    });

    it("revoking an already revoked session emits nothing more", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const { session: marker } = await addSession(user.id);
      await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
      const listener = listen(store);
      await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
      // Events arrive in order, so once the marker's arrives the first one would have too.
      await store.revokeSessions([marker.id], "logout", t0, t0 + HOUR);
      await waitForEvent(listener.events, revocationOf(marker.id));
      expect(listener.events.filter(revocationOf(session.id))).toEqual([]);
    });

    it("listDenylist returns only entries that have not expired", async () => {
      const user = await addUser();
      const { session: long } = await addSession(user.id);
      const { session: short } = await addSession(user.id);
      await store.revokeSessions([long.id], "logout", t0, t0 + HOUR);
      await store.revokeSessions([short.id], "logout", t0, t0);
      const ids = (await store.listDenylist(t0)).map((entry) => entry.id);
      expect(ids).toContain(`sid:${long.id}`);
      expect(ids).not.toContain(`sid:${short.id}`);
      expect(await store.listDenylist(t0 + HOUR)).toEqual([]);
    });
  });
}
