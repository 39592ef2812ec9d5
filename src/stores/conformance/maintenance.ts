/**
 * Conformance, part: Nonces, signing keys, purging, the event feed itself, closing and durability across a restart.
 */

import { beforeEach, describe, expect, it } from "vitest";
import type { SessionStore } from "../session-store.js";
import {
  DAY,
  digest,
  type Fixture,
  HOUR,
  listen,
  MINUTE,
  type OpenedStore,
  RACERS,
  revocationOf,
  securityEvent,
  waitForEvent,
  webhook,
} from "./fixture.js";

export function describeMaintenance(f: Fixture): void {
  const { newUser, addUser, newSession, addSession, rotation, upgrade, newLink, signingKey, redemption } = f;
  let store: SessionStore;
  let t0: number;
  let opened: OpenedStore;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
    opened = f.opened;
  });

  describe("nonces", () => {
    it("a nonce is new the first time and seen while it has not expired", async () => {
      const key = digest();
      expect(await store.rememberNonce(key, t0 + MINUTE, t0)).toBe(true);
      expect(await store.rememberNonce(key, t0 + MINUTE, t0 + 1)).toBe(false);
      expect(await store.rememberNonce(digest(), t0 + MINUTE, t0)).toBe(true);
    });

    it("an expired nonce is accepted again and then remembered anew", async () => {
      const key = digest();
      await store.rememberNonce(key, t0 + MINUTE, t0);
      expect(await store.rememberNonce(key, t0 + 3 * MINUTE, t0 + MINUTE)).toBe(true);
      expect(await store.rememberNonce(key, t0 + 3 * MINUTE, t0 + 2 * MINUTE)).toBe(false);
    });

    it("of twenty concurrent calls with one nonce exactly one finds it new", async () => {
      const key = digest();
      const results = await Promise.all(
        Array.from({ length: RACERS }, () => store.rememberNonce(key, t0 + MINUTE, t0)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });

  describe("signing keys", () => {
    it("saving an active key retires the previous active key at the new key's createdAt", async () => {
      const first = signingKey({ createdAt: t0 });
      const second = signingKey({ createdAt: t0 + 1000 });
      await store.saveSigningKey(first);
      await store.saveSigningKey(second);
      expect(await store.listSigningKeys()).toEqual([{ ...first, retiredAt: t0 + 1000 }, second]);
    });

    it("saving a retired key leaves the active key alone and keys list oldest first", async () => {
      const active = signingKey({ createdAt: t0 });
      const retired = signingKey({
        createdAt: t0 - 5000,
        retiredAt: t0 - 1000,
        publicJwk: null,
        alg: "HS256",
      });
      await store.saveSigningKey(active);
      await store.saveSigningKey(retired);
      expect(await store.listSigningKeys()).toEqual([retired, active]);
    });

    it("saving a key with an existing kid replaces it", async () => {
      const key = signingKey();
      await store.saveSigningKey(key);
      const replacement = {
        ...key,
        privateJwk: JSON.stringify({ kty: "oct", k: digest() }),
        retiredAt: t0 + 1,
      };
      await store.saveSigningKey(replacement);
      expect(await store.listSigningKeys()).toEqual([replacement]);
    });

    it("a deleted key is gone and deleting an unknown kid does nothing", async () => {
      const keep = signingKey({ createdAt: t0 - 1, retiredAt: t0 });
      const drop = signingKey();
      await store.saveSigningKey(keep);
      await store.saveSigningKey(drop);
      await store.deleteSigningKey(drop.kid);
      await store.deleteSigningKey("no-such-kid");
      expect(await store.listSigningKeys()).toEqual([keep]);
    });
  });

  describe("signing key events", () => {
    it("saving or deleting a signing key emits keys_changed, so other nodes reload their keys", async () => {
      const listener = listen(store);
      const key = signingKey();
      await store.saveSigningKey(key);
      await waitForEvent(listener.events, (event) => event.kind === "keys_changed");
      listener.events.length = 0;
      await store.deleteSigningKey(key.kid);
      expect(await waitForEvent(listener.events, (event) => event.kind === "keys_changed")).toEqual({
        kind: "keys_changed",
      });
      listener.stop();
    });
  });

  describe("maintenance", () => {
    it("purgeExpired removes what is past keeping, counts it and keeps the rest", async () => {
      const user = await addUser();
      // Removed: expired two days ago, with its refresh token (2 rows).
      const ended = await addSession(user.id, { createdAt: t0 - 3 * DAY, expiresAt: t0 - 2 * DAY });
      // Removed: revoked two days ago, with its refresh token and its expired sid entry (3 rows).
      const revoked = await addSession(user.id, { createdAt: t0 - 3 * DAY, expiresAt: t0 + DAY });
      await store.revokeSessions([revoked.session.id], "logout", t0 - 2 * DAY, t0 - DAY);
      // Kept, but its expired refresh token goes (1 row).
      const recent = await addSession(user.id, { createdAt: t0 - 2 * DAY, expiresAt: t0 - HOUR });
      // Kept whole.
      const live = await addSession(user.id);
      // Removed: the link that expired two days ago and the expired nonce (2 rows).
      const oldLink = newLink(user.id, { createdAt: t0 - 3 * DAY, expiresAt: t0 - 2 * DAY });
      const recentLink = newLink(user.id, { createdAt: t0 - 2 * HOUR, expiresAt: t0 - HOUR });
      await store.createLink(oldLink);
      await store.createLink(recentLink);
      await store.rememberNonce("old", t0 - MINUTE, t0 - 2 * MINUTE);
      await store.rememberNonce("fresh", t0 + MINUTE, t0);

      expect(await store.purgeExpired(t0)).toBe(8);

      expect(await store.getSession(ended.session.id)).toBeNull();
      expect(await store.getSession(revoked.session.id)).toBeNull();
      expect(await store.getSession(recent.session.id)).not.toBeNull();
      expect(await store.rotateRefreshToken(rotation(recent.refreshHash, { now: t0 - 2 * DAY }))).toEqual({
        kind: "not_found",
      });
      expect((await store.rotateRefreshToken(rotation(live.refreshHash))).kind).toBe("rotated");
      expect(await store.peekLink(oldLink.hash)).toBeNull();
      expect(await store.peekLink(recentLink.hash)).not.toBeNull();
      expect(await store.listDenylist(0)).toEqual([]);
      expect(await store.rememberNonce("fresh", t0 + MINUTE, t0)).toBe(false);
      expect(await store.purgeExpired(t0)).toBe(0);
    });

    it("purging an empty store removes nothing", async () => {
      expect(await store.purgeExpired(t0)).toBe(0);
    });

    it("ping resolves while the store is open", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it("the event feed of a healthy store is current", async () => {
      expect(store.events.isCurrent()).toBe(true);
    });

    it("close can be called twice", async () => {
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });

    it("a closed store rejects every operation with store is closed", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      await store.close();
      const calls: Array<() => Promise<unknown>> = [
        () => store.createUser(newUser()),
        () => store.findUserByUsernameKey(user.usernameKey),
        () => store.findUserById(user.id),
        () => store.listUsers(),
        () => store.createSession(newSession(user.id)),
        () => store.getSession(session.id),
        () => store.findSessionByTokenHash(digest()),
        () => store.listSessions(user.id, t0),
        () => store.listAllSessions(t0),
        () => store.upgradeSession(upgrade(session.id)),
        () => store.rotateRefreshToken(rotation(refreshHash)),
        () => store.updateSessionData(session.id, {}, t0),
        () => store.touchSession(session.id, t0),
        () => store.revokeSessions([session.id], "logout", t0, t0),
        () => store.revokeUserSessions({ userId: user.id, reason: "logout_all", now: t0, denyUntil: t0 }),
        () => store.markAuthenticated(session.id, t0, ["pwd"], t0),
        () => store.setPasswordHash(user.id, "x"),
        () => store.disableUser(user.id, t0, t0),
        () => store.enableUser(user.id),
        () => store.deleteUser(user.id, t0, t0),
        () => store.recordFailure("u:x", t0, MINUTE),
        () => store.readFailures("u:x", t0, MINUTE),
        () => store.clearFailures("u:x"),
        () => store.appendSecurityEvent(securityEvent(t0)),
        () => store.listSecurityEvents({ limit: 10 }),
        () => store.pruneSecurityEvents(t0, 10),
        () => store.enqueueWebhooks([]),
        () => store.claimWebhooks(t0, 10, MINUTE),
        () => store.completeWebhook("id"),
        () => store.retryWebhook("id", t0),
        () => store.listDenylist(t0),
        () => store.createLink(newLink(user.id)),
        () => store.redeemLink(redemption(newLink(user.id))),
        () => store.peekLink(digest()),
        () => store.rememberNonce(digest(), t0 + 1, t0),
        () => store.listSigningKeys(),
        () => store.saveSigningKey(signingKey()),
        () => store.deleteSigningKey("kid"),
        () => store.purgeExpired(t0),
        () => store.ping(),
      ];
      for (const call of calls) await expect(call()).rejects.toThrow("store is closed");
    });
  });

  describe("events", () => {
    it("an unsubscribed listener hears nothing more", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const gone = listen(store);
      const staying = listen(store);
      gone.stop();
      await store.revokeSessions([session.id], "logout", t0, t0 + HOUR);
      await waitForEvent(staying.events, revocationOf(session.id));
      expect(gone.events).toEqual([]);
    });

    it("a listener that throws neither fails the write nor silences the other listeners", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      store.events.subscribe(() => {
        throw new Error("listener bug");
      });
      const listener = listen(store);
      await expect(store.revokeSessions([session.id], "logout", t0, t0 + HOUR)).resolves.toHaveLength(1);
      await waitForEvent(listener.events, revocationOf(session.id));
    });
  });

  describe("durability", () => {
    it("users, sessions, tokens, links, keys, nonces and the denylist survive a restart", async (context) => {
      const reopen = opened.reopen;
      if (reopen === undefined) {
        context.skip("this store keeps nothing across a restart");
        return;
      }
      const user = await addUser();
      const { session } = await addSession(user.id, { deviceId: "phone", data: { kept: ["yes"] } });
      const up = upgrade(session.id);
      await store.upgradeSession(up);
      const { session: revoked } = await addSession(user.id);
      await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
      const link = newLink(user.id, { data: { step: 2 } });
      await store.createLink(link);
      const key = signingKey();
      await store.saveSigningKey(key);
      await store.rememberNonce("seen", t0 + HOUR, t0);
      const before = await store.getSession(session.id);
      const denylist = await store.listDenylist(t0);
      await store.close();

      const again = await reopen();
      try {
        expect(await again.findUserByUsernameKey(user.usernameKey)).toEqual(user);
        expect(await again.getSession(session.id)).toEqual(before);
        expect((await again.findSessionByTokenHash(up.sessionTokenHash))?.id).toBe(session.id);
        expect(await again.listDenylist(t0)).toEqual(expect.arrayContaining(denylist));
        expect(await again.listSigningKeys()).toEqual([key]);
        expect(await again.peekLink(link.hash)).toEqual({ ...link, consumedAt: null });
        expect((await again.redeemLink(redemption(link))).kind).toBe("redeemed");
        expect(await again.rememberNonce("seen", t0 + HOUR, t0)).toBe(false);
        expect((await again.rotateRefreshToken(rotation(up.refreshToken.hash))).kind).toBe("rotated");
        expect((await again.createUser(newUser()))?.id).toBeGreaterThan(user.id);
      } finally {
        await again.close();
      }
    });

    it("disabled users, session freshness, counters, the security log and webhooks survive a restart", async (context) => {
      const reopen = opened.reopen;
      if (reopen === undefined) {
        context.skip("this store keeps nothing across a restart");
        return;
      }
      const user = await addUser();
      const { session } = await addSession(user.id, {
        deviceName: "Ada's laptop",
        authMethods: ["pwd", "otp"],
      });
      await store.markAuthenticated(session.id, t0 + 5, ["github"], t0 + 5);
      const disabled = await addUser();
      await store.disableUser(disabled.id, t0, t0 + HOUR);
      await store.recordFailure("u:ada", t0, HOUR);
      const event = securityEvent(t0, { userId: user.id, detail: { n: 1 } });
      await store.appendSecurityEvent(event);
      const delivery = webhook(t0);
      await store.enqueueWebhooks([delivery]);
      const before = await store.getSession(session.id);
      await store.close();

      const again = await reopen();
      try {
        expect(await again.getSession(session.id)).toEqual(before);
        expect(before).toMatchObject({
          deviceName: "Ada's laptop",
          authenticatedAt: t0 + 5,
          authMethods: ["github"],
        });
        expect((await again.findUserById(disabled.id))?.disabledAt).toBe(t0);
        expect(await again.readFailures("u:ada", t0 + 1, HOUR)).toEqual({ failures: 1, lastFailureAt: t0 });
        expect(await again.listSecurityEvents({ limit: 10 })).toEqual([event]);
        expect(await again.claimWebhooks(t0, 10, MINUTE)).toEqual([
          { ...delivery, attempts: 1, nextAttemptAt: t0 + MINUTE },
        ]);
      } finally {
        await again.close();
      }
    });
  });
}
