/**
 * Conformance, part: Refresh-token rotation, upgrading a JWT session to session tokens, and server-side reissue.
 */

import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { RotateOutcome, SessionRecord, SessionStore, UpgradeOutcome } from "../session-store.js";
import {
  DAY,
  denialOf,
  digest,
  type Fixture,
  HOUR,
  listen,
  MINUTE,
  only,
  RACERS,
  waitForEvent,
} from "./fixture.js";

export function describeRotation(f: Fixture): void {
  const { addUser, addSession, rotation, upgrade } = f;
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  describe("refresh token rotation", () => {
    it("rotation spends the old token, inserts the successor and extends the session", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id, { expiresAt: t0 + HOUR });
      const input = rotation(refreshHash, { now: t0 + MINUTE });
      const outcome = await store.rotateRefreshToken(input);
      const extended: SessionRecord = { ...session, expiresAt: input.expiresAt };
      expect(outcome).toEqual({ kind: "rotated", session: extended });
      expect(await store.getSession(session.id)).toEqual(extended);
      const next = await store.rotateRefreshToken(rotation(input.successor.hash, { now: t0 + 2 * MINUTE }));
      expect(next.kind).toBe("rotated");
    });

    it("rotation sets the session token digest when one is given and keeps it otherwise", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const up = upgrade(session.id);
      await store.upgradeSession(up);
      const newHash = digest();
      const first = rotation(up.refreshToken.hash, { sessionTokenHash: newHash });
      const rotated = await store.rotateRefreshToken(first);
      expect(rotated.kind === "rotated" && rotated.session.sessionTokenHash).toBe(newHash);
      expect((await store.findSessionByTokenHash(newHash))?.id).toBe(session.id);
      expect(await store.findSessionByTokenHash(up.sessionTokenHash)).toBeNull();
      const second = await store.rotateRefreshToken(rotation(first.successor.hash));
      expect(second.kind === "rotated" && second.session.sessionTokenHash).toBe(newHash);
    });

    it("rotation limited to one session refuses another session's token as not_found and spends nothing", async () => {
      const user = await addUser();
      const mine = await addSession(user.id);
      const theirs = await addSession(user.id);
      const foreign = await store.rotateRefreshToken({
        ...rotation(theirs.refreshHash),
        sessionId: mine.session.id,
      });
      expect(foreign).toEqual({ kind: "not_found" });
      // Not spent: its owner still rotates it.
      expect((await store.rotateRefreshToken(rotation(theirs.refreshHash))).kind).toBe("rotated");
      const own = await store.rotateRefreshToken({
        ...rotation(mine.refreshHash),
        sessionId: mine.session.id,
      });
      expect(own.kind).toBe("rotated");
    });

    it("rotation of a jwt session ignores a session token digest and keeps it null", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const outcome = await store.rotateRefreshToken(rotation(refreshHash, { sessionTokenHash: digest() }));
      expect(outcome.kind === "rotated" && outcome.session.sessionTokenHash).toBeNull();
      expect((await store.getSession(session.id))?.sessionTokenHash).toBeNull();
    });

    it("the successor belongs to the spent token's session", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      await addSession(user.id);
      const first = rotation(refreshHash);
      await store.rotateRefreshToken(first);
      const next = await store.rotateRefreshToken(rotation(first.successor.hash));
      expect(next).toMatchObject({ kind: "rotated", session: { id: session.id } });
    });

    it("rotating an unknown token gives not_found", async () => {
      const user = await addUser();
      await addSession(user.id);
      expect(await store.rotateRefreshToken(rotation(digest()))).toEqual({ kind: "not_found" });
    });

    it("rotating a spent token gives spent with the sealed successor the winner wrote", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const first = rotation(refreshHash, { now: t0 + 1000 });
      await store.rotateRefreshToken(first);
      const replay = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 2000 }));
      expect(replay).toEqual({
        kind: "spent",
        session: { ...session, expiresAt: first.expiresAt },
        token: {
          hash: refreshHash,
          sessionId: session.id,
          spentAt: t0 + 1000,
          sealedSuccessor: first.sealedSuccessor,
          successorSpent: false,
        },
      });
    });

    it("a replay after the successor was used reports the successor as spent", async () => {
      const user = await addUser();
      const { refreshHash } = await addSession(user.id);
      const first = rotation(refreshHash);
      await store.rotateRefreshToken(first);
      await store.rotateRefreshToken(rotation(first.successor.hash));
      const replay = await store.rotateRefreshToken(rotation(refreshHash));
      expect(replay.kind === "spent" && replay.token.successorSpent).toBe(true);
    });

    it("a spent token is reported as spent even after it and its session expired", async () => {
      const user = await addUser();
      const { refreshHash } = await addSession(user.id, { expiresAt: t0 + HOUR });
      await store.rotateRefreshToken(rotation(refreshHash));
      const late = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 7 * DAY }));
      expect(late.kind).toBe("spent");
    });

    it("rotating an expired token gives expired and spends nothing", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id, { refreshExpiresAt: t0 + MINUTE });
      const late = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + MINUTE }));
      expect(late).toEqual({ kind: "expired", session });
      const early = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + MINUTE - 1 }));
      expect(early.kind).toBe("rotated");
    });

    it("rotating a token of an expired session gives expired", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id, {
        expiresAt: t0 + HOUR,
        refreshExpiresAt: t0 + DAY,
      });
      const outcome = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + HOUR }));
      expect(outcome).toEqual({ kind: "expired", session });
    });

    it("rotating a token of a revoked session gives revoked, even when the token is spent", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const first = rotation(refreshHash);
      await store.rotateRefreshToken(first);
      await store.revokeSessions([session.id], "logout", t0 + 1, t0 + HOUR);
      const fresh = await store.rotateRefreshToken(rotation(first.successor.hash));
      expect(fresh).toMatchObject({ kind: "revoked", session: { id: session.id, revokedAt: t0 + 1 } });
      const spent = await store.rotateRefreshToken(rotation(refreshHash));
      expect(spent.kind).toBe("revoked");
    });

    it("of twenty concurrent rotations of one token exactly one rotates and the rest see its successor", async () => {
      const user = await addUser();
      const { refreshHash } = await addSession(user.id);
      const inputs = Array.from({ length: RACERS }, () => rotation(refreshHash));
      const outcomes: RotateOutcome[] = await Promise.all(
        inputs.map((input) => store.rotateRefreshToken(input)),
      );
      const winner = outcomes.findIndex((outcome) => outcome.kind === "rotated");
      only(
        outcomes.filter((outcome) => outcome.kind === "rotated"),
        "rotation",
      );
      for (const outcome of outcomes) {
        if (outcome.kind === "rotated") continue;
        expect(outcome.kind === "spent" && outcome.token.sealedSuccessor).toBe(
          inputs[winner]?.sealedSuccessor,
        );
      }
    });
  });

  describe("upgrading a session", () => {
    it("an upgrade that names metadata stores it on the session; without, the login's stays", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const metadata = { userAgent: "upgrader/1.0", ipAddress: "203.0.113.9" };
      const outcome = await store.upgradeSession({ ...upgrade(session.id), metadata });
      expect(outcome.kind === "upgraded" && outcome.session.metadata).toEqual(metadata);
      expect((await store.getSession(session.id))?.metadata).toEqual(metadata);
      const other = await addSession(user.id);
      await store.upgradeSession(upgrade(other.session.id));
      expect((await store.getSession(other.session.id))?.metadata).toEqual(other.session.metadata);
    });

    it("an upgrade denylists the jti, switches to session tokens and replaces the refresh tokens", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const listener = listen(store);
      const input = upgrade(session.id);
      const outcome = await store.upgradeSession(input);
      const upgraded: SessionRecord = {
        ...session,
        tokenType: "session",
        sessionTokenHash: input.sessionTokenHash,
      };
      expect(outcome).toEqual({ kind: "upgraded", session: upgraded });
      expect(await store.getSession(session.id)).toEqual(upgraded);
      const entry = { id: `jti:${input.jti}`, expiresAt: input.jtiExpiresAt };
      expect(await store.listDenylist(t0)).toContainEqual(entry);
      expect(await waitForEvent(listener.events, denialOf(entry.id))).toEqual({ kind: "denied", entry });

      const old = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 1 }));
      expect(old).toEqual({
        kind: "spent",
        session: upgraded,
        token: {
          hash: refreshHash,
          sessionId: session.id,
          spentAt: t0,
          sealedSuccessor: null,
          successorSpent: false,
        },
      });
      const fresh = await store.rotateRefreshToken(rotation(input.refreshToken.hash, { now: t0 + 1 }));
      expect(fresh.kind).toBe("rotated");
    });

    it("upgrading with a jti that was already used gives jti_used and changes nothing", async () => {
      const user = await addUser();
      const { session: first } = await addSession(user.id);
      const { session: second } = await addSession(user.id);
      const jti = randomUUID();
      await store.upgradeSession(upgrade(first.id, { jti }));
      const input = upgrade(second.id, { jti });
      expect(await store.upgradeSession(input)).toEqual({ kind: "jti_used" });
      expect(await store.getSession(second.id)).toEqual(second);
      const rotate = await store.rotateRefreshToken(rotation(input.refreshToken.hash));
      expect(rotate.kind).toBe("not_found");
    });

    it("upgrading a revoked, expired or unknown session gives not_live and denylists nothing", async () => {
      const user = await addUser();
      const { session: revoked } = await addSession(user.id);
      await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
      const { session: expired } = await addSession(user.id, { createdAt: t0 - DAY, expiresAt: t0 });
      const attempts = [upgrade(revoked.id), upgrade(expired.id), upgrade(randomUUID())];
      for (const attempt of attempts) {
        expect(await store.upgradeSession(attempt)).toEqual({ kind: "not_live" });
      }
      const denied = (await store.listDenylist(t0)).map((entry) => entry.id);
      for (const attempt of attempts) expect(denied).not.toContain(`jti:${attempt.jti}`);
      expect((await store.getSession(expired.id))?.tokenType).toBe("jwt");
    });

    it("upgrading an upgraded session gives already_upgraded and leaves its jti and tokens alone", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const first = upgrade(session.id);
      await store.upgradeSession(first);
      const second = upgrade(session.id);
      expect(await store.upgradeSession(second)).toEqual({ kind: "already_upgraded" });
      expect((await store.listDenylist(t0)).map((entry) => entry.id)).not.toContain(`jti:${second.jti}`);
      expect((await store.getSession(session.id))?.sessionTokenHash).toBe(first.sessionTokenHash);
      expect((await store.rotateRefreshToken(rotation(second.refreshToken.hash))).kind).toBe("not_found");
      expect((await store.rotateRefreshToken(rotation(first.refreshToken.hash))).kind).toBe("rotated");
    });

    it("of twenty concurrent upgrades with one jti exactly one upgrades", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      const jti = randomUUID();
      const outcomes: UpgradeOutcome[] = await Promise.all(
        Array.from({ length: RACERS }, () => store.upgradeSession(upgrade(session.id, { jti }))),
      );
      only(
        outcomes.filter((outcome) => outcome.kind === "upgraded"),
        "upgrade",
      );
      expect(outcomes.filter((outcome) => outcome.kind === "jti_used")).toHaveLength(RACERS - 1);
    });
  });

  describe("reissuing a session from the server side", () => {
    it("reissue supersedes the refresh tokens, inserts the new one and extends the session", async () => {
      const user = await addUser();
      const { session, refreshHash } = await addSession(user.id);
      const newHash = digest();
      const reissued = await store.reissueSession({
        sessionId: session.id,
        refreshToken: { hash: newHash, createdAt: t0 + 1, expiresAt: t0 + 2 * DAY },
        sessionTokenHash: digest(),
        expiresAt: t0 + 2 * DAY,
        now: t0 + 1,
      });
      // A jwt session never gains a session token digest.
      expect(reissued).toEqual({ ...session, expiresAt: t0 + 2 * DAY, sessionTokenHash: null });
      const old = await store.rotateRefreshToken(rotation(refreshHash, { now: t0 + 2 }));
      expect(old).toMatchObject({ kind: "spent", token: { sealedSuccessor: null, successorSpent: false } });
      expect(await store.rotateRefreshToken(rotation(newHash, { now: t0 + 2 }))).toMatchObject({
        kind: "rotated",
      });
    });

    it("reissue of an upgraded session replaces its session token digest", async () => {
      const user = await addUser();
      const { session } = await addSession(user.id);
      await store.upgradeSession(upgrade(session.id));
      const tokenHash = digest();
      const reissued = await store.reissueSession({
        sessionId: session.id,
        refreshToken: { hash: digest(), createdAt: t0, expiresAt: t0 + 2 * DAY },
        sessionTokenHash: tokenHash,
        expiresAt: t0 + 2 * DAY,
        now: t0,
      });
      expect(reissued?.sessionTokenHash).toBe(tokenHash);
      expect((await store.findSessionByTokenHash(tokenHash))?.id).toBe(session.id);
    });

    it("reissue of a revoked, expired or unknown session gives null and changes nothing", async () => {
      const user = await addUser();
      const { session: revoked } = await addSession(user.id);
      await store.revokeSessions([revoked.id], "logout", t0, t0 + HOUR);
      const { session: expired } = await addSession(user.id, { expiresAt: t0 + 10 });
      for (const sessionId of [revoked.id, expired.id, randomUUID()]) {
        const outcome = await store.reissueSession({
          sessionId,
          refreshToken: { hash: digest(), createdAt: t0 + 20, expiresAt: t0 + DAY },
          sessionTokenHash: null,
          expiresAt: t0 + DAY,
          now: t0 + 20,
        });
        expect(outcome).toBeNull();
      }
      expect((await store.getSession(expired.id))?.expiresAt).toBe(t0 + 10);
    });
  });
}
