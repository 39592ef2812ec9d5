/**
 * Conformance, part: what the store keeps for the whole deployment besides sessions —
 * shared failure counters (login throttling), the append-only security log, and the webhook
 * delivery queue whose claims are leases no two workers share.
 */

import { beforeEach, describe, expect, it } from "vitest";
import type { SecurityEventRecord, SessionStore, WebhookDelivery } from "../session-store.js";
import { type Fixture, HOUR, MINUTE, RACERS, securityEvent, webhook } from "./fixture.js";

export function describeLogs(f: Fixture): void {
  let store: SessionStore;
  let t0: number;
  beforeEach(() => {
    store = f.store;
    t0 = f.t0;
  });

  describe("failure counters", () => {
    it("recordFailure counts up from one and readFailures reads the count", async () => {
      expect(await store.readFailures("u:ada", t0, HOUR)).toBeNull();
      expect(await store.recordFailure("u:ada", t0, HOUR)).toEqual({ failures: 1, lastFailureAt: t0 });
      expect(await store.recordFailure("u:ada", t0 + 10, HOUR)).toEqual({
        failures: 2,
        lastFailureAt: t0 + 10,
      });
      expect(await store.readFailures("u:ada", t0 + 20, HOUR)).toEqual({
        failures: 2,
        lastFailureAt: t0 + 10,
      });
      expect(await store.readFailures("ip:192.0.2.7", t0 + 20, HOUR)).toBeNull();
    });

    it("a counter whose last failure is older than the window is forgotten and starts again", async () => {
      await store.recordFailure("ip:192.0.2.7", t0, MINUTE);
      await store.recordFailure("ip:192.0.2.7", t0 + 1, MINUTE);
      expect(await store.readFailures("ip:192.0.2.7", t0 + 1 + MINUTE, MINUTE)).toEqual({
        failures: 2,
        lastFailureAt: t0 + 1,
      });
      expect(await store.readFailures("ip:192.0.2.7", t0 + 2 + MINUTE, MINUTE)).toBeNull();
      expect(await store.recordFailure("ip:192.0.2.7", t0 + 2 + MINUTE, MINUTE)).toEqual({
        failures: 1,
        lastFailureAt: t0 + 2 + MINUTE,
      });
    });

    it("clearFailures resets one counter and leaves the others", async () => {
      await store.recordFailure("u:ada", t0, HOUR);
      await store.recordFailure("u:bob", t0, HOUR);
      await store.clearFailures("u:ada");
      await store.clearFailures("u:nobody");
      expect(await store.readFailures("u:ada", t0, HOUR)).toBeNull();
      expect(await store.readFailures("u:bob", t0, HOUR)).toEqual({ failures: 1, lastFailureAt: t0 });
    });

    it("twenty concurrent failures count twenty", async () => {
      const counts = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => store.recordFailure("u:racer", t0 + i, HOUR)),
      );
      expect(counts.map((c) => c.failures).sort((a, b) => a - b)).toEqual(
        Array.from({ length: RACERS }, (_, i) => i + 1),
      );
      expect((await store.readFailures("u:racer", t0 + RACERS, HOUR))?.failures).toBe(RACERS);
    });
  });

  describe("the security log", () => {
    async function appendAll(events: readonly SecurityEventRecord[]): Promise<void> {
      for (const event of events) await store.appendSecurityEvent(event);
    }

    it("events read back exactly, newest first, up to the limit", async () => {
      const events = [0, 1, 2, 3].map((i) =>
        securityEvent(t0 + i, {
          userId: 7,
          usernameKey: "ada",
          sessionId: `s${i}`,
          detail: { i, ok: [true] },
        }),
      );
      await appendAll(events);
      expect(await store.listSecurityEvents({ limit: 10 })).toEqual([...events].reverse());
      expect(await store.listSecurityEvents({ limit: 2 })).toEqual([events[3], events[2]]);
      expect(await store.listSecurityEvents({ limit: 0 })).toEqual([]);
    });

    it("events filter by user, kinds and time, and page by beforeId", async () => {
      const a = securityEvent(t0, { userId: 1, kind: "login_succeeded" });
      const b = securityEvent(t0 + 10, { userId: 2, kind: "login_failed" });
      const c = securityEvent(t0 + 20, { userId: 1, kind: "session_revoked" });
      const d = securityEvent(t0 + 30, { userId: 1, kind: "login_failed" });
      await appendAll([a, b, c, d]);
      expect(await store.listSecurityEvents({ userId: 1, limit: 10 })).toEqual([d, c, a]);
      expect(await store.listSecurityEvents({ kinds: ["login_failed"], limit: 10 })).toEqual([d, b]);
      expect(
        await store.listSecurityEvents({ kinds: ["login_succeeded", "session_revoked"], limit: 10 }),
      ).toEqual([c, a]);
      expect(await store.listSecurityEvents({ kinds: [], limit: 10 })).toEqual([]);
      expect(await store.listSecurityEvents({ since: t0 + 10, until: t0 + 30, limit: 10 })).toEqual([c, b]);
      const page1 = await store.listSecurityEvents({ userId: 1, limit: 2 });
      expect(page1).toEqual([d, c]);
      const page2 = await store.listSecurityEvents({ userId: 1, limit: 2, beforeId: page1[1]?.id ?? "" });
      expect(page2).toEqual([a]);
    });

    it("pruning deletes at most the limit of events older than the cut-off, oldest first", async () => {
      const events = [0, 1, 2, 3, 4].map((i) => securityEvent(t0 + i * MINUTE));
      await appendAll(events);
      expect(await store.pruneSecurityEvents(t0 + 3 * MINUTE, 2)).toBe(2);
      expect(await store.listSecurityEvents({ limit: 10 })).toEqual([events[4], events[3], events[2]]);
      expect(await store.pruneSecurityEvents(t0 + 3 * MINUTE, 10)).toBe(1);
      expect(await store.pruneSecurityEvents(t0 + 3 * MINUTE, 10)).toBe(0);
      expect(await store.listSecurityEvents({ limit: 10 })).toEqual([events[4], events[3]]);
    });
  });

  describe("the webhook queue", () => {
    it("a claim leases due deliveries, oldest due first, counting an attempt", async () => {
      const late = webhook(t0 + MINUTE);
      const second = webhook(t0 - 10);
      const first = webhook(t0 - 20);
      await store.enqueueWebhooks([late, second, first]);
      const claimed = await store.claimWebhooks(t0, 10, 30_000);
      expect(claimed).toEqual([
        { ...first, attempts: 1, nextAttemptAt: t0 + 30_000 },
        { ...second, attempts: 1, nextAttemptAt: t0 + 30_000 },
      ]);
      expect(await store.claimWebhooks(t0, 10, 30_000)).toEqual([]);
    });

    it("a claim takes at most the limit", async () => {
      await store.enqueueWebhooks([webhook(t0 - 3), webhook(t0 - 2), webhook(t0 - 1)]);
      expect(await store.claimWebhooks(t0, 2, MINUTE)).toHaveLength(2);
      expect(await store.claimWebhooks(t0, 2, MINUTE)).toHaveLength(1);
    });

    it("enqueueing one (eventId, endpoint) twice keeps the first delivery", async () => {
      const delivery = webhook(t0);
      await store.enqueueWebhooks([delivery]);
      await store.enqueueWebhooks([{ ...delivery, id: "another-id", payload: "{}" }]);
      const other = webhook(t0, { eventId: delivery.eventId, endpoint: "https://other.example/hook" });
      await store.enqueueWebhooks([other]);
      const claimed = await store.claimWebhooks(t0, 10, MINUTE);
      expect(claimed.map((d) => d.id).sort()).toEqual([delivery.id, other.id].sort());
      expect(claimed.find((d) => d.id === delivery.id)?.payload).toBe(delivery.payload);
    });

    it("an expired lease makes a delivery claimable again", async () => {
      const delivery = webhook(t0);
      await store.enqueueWebhooks([delivery]);
      await store.claimWebhooks(t0, 10, MINUTE);
      expect(await store.claimWebhooks(t0 + MINUTE - 1, 10, MINUTE)).toEqual([]);
      expect(await store.claimWebhooks(t0 + MINUTE, 10, MINUTE)).toEqual([
        { ...delivery, attempts: 2, nextAttemptAt: t0 + 2 * MINUTE },
      ]);
    });

    it("retry schedules the next attempt and complete removes the delivery", async () => {
      const delivery = webhook(t0);
      const done = webhook(t0);
      await store.enqueueWebhooks([delivery, done]);
      await store.claimWebhooks(t0, 10, MINUTE);
      await store.retryWebhook(delivery.id, t0 + 5);
      await store.completeWebhook(done.id);
      await store.completeWebhook("no-such-delivery");
      await store.retryWebhook("no-such-delivery", t0);
      expect(await store.claimWebhooks(t0 + 5, 10, MINUTE)).toEqual([
        { ...delivery, attempts: 2, nextAttemptAt: t0 + 5 + MINUTE },
      ]);
      expect(await store.claimWebhooks(t0 + HOUR, 10, MINUTE)).toHaveLength(1);
    });

    it("a completed delivery can be enqueued again for the same event and endpoint", async () => {
      const delivery = webhook(t0);
      await store.enqueueWebhooks([delivery]);
      await store.completeWebhook(delivery.id);
      const again = { ...delivery, id: "again" };
      await store.enqueueWebhooks([again]);
      expect((await store.claimWebhooks(t0, 10, MINUTE)).map((d) => d.id)).toEqual(["again"]);
    });

    it("twenty concurrent claimers never get the same delivery", async () => {
      const deliveries = Array.from({ length: 30 }, (_, i) => webhook(t0 - i));
      await store.enqueueWebhooks(deliveries);
      const claims: WebhookDelivery[][] = await Promise.all(
        Array.from({ length: RACERS }, () => store.claimWebhooks(t0, 2, MINUTE)),
      );
      const ids = claims.flat().map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(30);
      expect(claims.flat().every((d) => d.attempts === 1)).toBe(true);
    });
  });
}
