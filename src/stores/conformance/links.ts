/**
 * Conformance, part: single-use links — reading them, and redeeming them into a session in
 * one atomic step (of any number of redeemers exactly one gets a session; an expired or
 * used link makes nothing).
 */

import { beforeEach, describe, expect, it } from "vitest";
import type { RedeemLinkOutcome, SessionStore } from "../session-store.js";
import {
  DAY,
  digest,
  type Fixture,
  HOUR,
  listen,
  MINUTE,
  only,
  RACERS,
  revocationOf,
  waitForEvent,
} from "./fixture.js";

export function describeLinks(f: Fixture): void {
  const { addUser, addSession, newLink, redemption } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  describe("single-use links", () => {
    it("a link reads back with every field, unconsumed, and peeking does not consume it", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const full = newLink(user.id, {
        issuedBySessionId: session.id,
        data: { invite: { team: "core" }, n: 3 },
        redirectTo: "https://app.example/welcome",
        confirm: true,
        provider: "email",
        deviceId: "phone",
      });
      const bare = newLink(user.id);
      await store.createLink(full);
      await store.createLink(bare);
      expect(await store.peekLink(full.hash)).toEqual({ ...full, consumedAt: null });
      expect(await store.peekLink(bare.hash)).toEqual({ ...bare, consumedAt: null });
      expect((await store.redeemLink(redemption(full))).kind).toBe("redeemed");
    });

    it("peeking at an unknown link gives null", async () => {
      expect(await store.peekLink(digest())).toBeNull();
    });

    it("creating a link for an unknown user rejects", async () => {
      await expect(store.createLink(newLink(987_654))).rejects.toThrow();
    });

    it("redeeming a link consumes it and creates its session, with the link's data, in one step", async () => {
      const user = await addUser();
      const link = newLink(user.id, { data: { cart: [1, 2] } });
      await store.createLink(link);
      const input = redemption(link, t0 + 1000);
      const outcome = await store.redeemLink(input);
      const session = { ...input.session.session, revokedAt: null, revokedReason: null };
      expect(outcome).toEqual({
        kind: "redeemed",
        link: { ...link, consumedAt: t0 + 1000 },
        session,
        replaced: [],
      });
      expect(await store.getSession(session.id)).toEqual(session);
      expect((await store.findSessionByTokenHash(session.sessionTokenHash ?? ""))?.id).toBe(session.id);
      expect((await store.rotateRefreshToken(f.rotation(input.session.refreshToken.hash))).kind).toBe(
        "rotated",
      );
      expect((await store.peekLink(link.hash))?.consumedAt).toBe(t0 + 1000);
    });

    it("a redeemed link is used after that and a second redemption creates nothing", async () => {
      const user = await addUser();
      const link = newLink(user.id);
      await store.createLink(link);
      await store.redeemLink(redemption(link, t0 + 1000));
      const again = redemption(link, t0 + 2000);
      expect(await store.redeemLink(again)).toEqual({ kind: "used" });
      expect(await store.getSession(again.session.session.id)).toBeNull();
      expect(await store.listSessions(user.id, t0 + 2000)).toHaveLength(1);
    });

    it("an expired link gives expired, is not consumed and creates no session", async () => {
      const user = await addUser();
      const link = newLink(user.id, { expiresAt: t0 });
      await store.createLink(link);
      const input = redemption(link, t0);
      expect(await store.redeemLink(input)).toEqual({ kind: "expired" });
      expect(await store.redeemLink(redemption(link, t0 + 1))).toEqual({ kind: "expired" });
      expect((await store.peekLink(link.hash))?.consumedAt).toBeNull();
      expect(await store.getSession(input.session.session.id)).toBeNull();
      expect(await store.listSessions(user.id, t0)).toEqual([]);
    });

    it("a redeemed link stays used after it expires", async () => {
      const user = await addUser();
      const link = newLink(user.id, { expiresAt: t0 + MINUTE });
      await store.createLink(link);
      await store.redeemLink(redemption(link, t0));
      expect(await store.redeemLink(redemption(link, t0 + HOUR))).toEqual({ kind: "used" });
    });

    it("redeeming an unknown link gives not_found and creates no session", async () => {
      const user = await addUser();
      const input = redemption(newLink(user.id));
      expect(await store.redeemLink(input)).toEqual({ kind: "not_found" });
      expect(await store.getSession(input.session.session.id)).toBeNull();
    });

    it("a redemption whose session cannot be inserted rejects and leaves the link unconsumed", async () => {
      const user = await addUser();
      const { session: existing } = await addSession(user.id);
      const link = newLink(user.id);
      await store.createLink(link);
      const input = redemption(link);
      // A session id that is taken: the insert fails, so the consumption must not stay.
      const clash = {
        ...input,
        session: {
          session: { ...input.session.session, id: existing.id },
          refreshToken: { ...input.session.refreshToken, sessionId: existing.id },
        },
      };
      await expect(store.redeemLink(clash)).rejects.toThrow();
      expect((await store.peekLink(link.hash))?.consumedAt).toBeNull();
      expect((await store.redeemLink(redemption(link))).kind).toBe("redeemed");
    });

    it("a link with a device replaces that device's live session when redeemed", async () => {
      const user = await addUser();
      const { session: old } = await addSession(user.id, { deviceId: "phone" });
      const link = newLink(user.id, { deviceId: "phone" });
      await store.createLink(link);
      const listener = listen(store);
      const outcome = await store.redeemLink(redemption(link, t0 + 1));
      expect(outcome.kind === "redeemed" && outcome.replaced).toEqual([old.id]);
      expect((await store.getSession(old.id))?.revokedReason).toBe("device_replaced");
      await waitForEvent(listener.events, revocationOf(old.id));
      listener.stop();
    });

    it("of twenty concurrent redeemers of one link exactly one gets a session", async () => {
      const user = await addUser();
      const link = newLink(user.id);
      await store.createLink(link);
      const inputs = Array.from({ length: RACERS }, () => redemption(link, t0 + 1));
      const outcomes: RedeemLinkOutcome[] = await Promise.all(inputs.map((input) => store.redeemLink(input)));
      const winner = only(
        outcomes.filter((outcome) => outcome.kind === "redeemed"),
        "redeemer",
      );
      expect(outcomes.filter((outcome) => outcome.kind === "used")).toHaveLength(RACERS - 1);
      const live = await store.listSessions(user.id, t0 + 1);
      expect(live.map((s) => s.id)).toEqual([winner.kind === "redeemed" ? winner.session.id : ""]);
      for (const input of inputs) {
        const made = await store.getSession(input.session.session.id);
        if (winner.kind === "redeemed" && input.session.session.id === winner.session.id) continue;
        expect(made).toBeNull();
      }
      expect((await store.listSessions(user.id, t0 + DAY - 1)).length).toBe(1);
    });
  });
}
