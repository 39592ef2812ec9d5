/**
 * The idle rule (`engine/idle.ts`) with the engine's fake clock, on real stores: a session
 * unused for the idle timeout ends with `token_expired` for every credential; uses keep it
 * alive, on this engine or on another one sharing the store; `lastSeenAt` is written once
 * per touch interval, not per request; and nothing revives an idle session.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { codeOf, FAST_PASSWORDS, loggedIn, makeEngine, testClock } from "../../test/kit.js";
import { SqliteStore } from "../stores/sqlite/sqlite-store.js";
import { Tessera } from "./tessera.js";

const IDLE_S = 600; // 10 minutes: the touch interval is a tenth, 60 s
const IDLE_MS = IDLE_S * 1000;
const TOUCH_MS = 60_000;

describe("the idle timeout", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function engine(idleTimeoutSeconds = IDLE_S) {
    const made = await makeEngine({ idleTimeoutSeconds });
    cleanup.push(() => made.tessera.close());
    return made;
  }

  it("ends a session unused for the timeout plus one touch interval, and never earlier", async () => {
    const { tessera, clock } = await engine();
    const { pair } = await loggedIn(tessera);
    const session = await tessera.upgrade(pair.accessToken);
    // Unused from the upgrade on: still live one millisecond before the deadline…
    clock.advance(IDLE_MS + TOUCH_MS - 1);
    expect((await tessera.validate(session.accessToken)).session.id).toBe(session.sessionId);
    // …which that validation moved: the session is used, so it lives on.
    clock.advance(IDLE_MS);
    expect((await tessera.validate(session.accessToken)).session.id).toBe(session.sessionId);
    clock.advance(IDLE_MS + TOUCH_MS);
    expect(await codeOf(tessera.validate(session.accessToken))).toBe("token_expired");
  });

  it("applies to access JWTs and to refresh, and a refresh does not revive an idle session", async () => {
    const { tessera, clock } = await engine();
    const { pair } = await loggedIn(tessera);
    clock.advance(IDLE_MS + TOUCH_MS);
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("token_expired");
    // That attempt spent the token and extended nothing usable: a retry inside the grace
    // window meets the same idle session.
    expect(await codeOf(tessera.refresh(pair.refreshToken))).toBe("token_expired");
    const session = await tessera.getSession(pair.sessionId);
    expect(session?.lastSeenAt).toBe(new Date(clock() - IDLE_MS - TOUCH_MS).toISOString());
    expect(await codeOf(tessera.checkSession(pair.sessionId, { use: true }))).toBe("token_expired");
  });

  it("a refresh counts as a use", async () => {
    const { tessera, clock } = await engine();
    const { pair } = await loggedIn(tessera);
    clock.advance(IDLE_MS);
    const refreshed = await tessera.refresh(pair.refreshToken);
    clock.advance(IDLE_MS);
    expect((await tessera.refresh(refreshed.refreshToken)).sessionId).toBe(pair.sessionId);
  });

  it("writes lastSeenAt at most once per touch interval, however many requests", async () => {
    const { tessera, clock, store } = await engine();
    const { pair } = await loggedIn(tessera);
    const session = await tessera.upgrade(pair.accessToken);
    const start = clock();
    const spy = vi.spyOn(store, "touchSession");
    for (let i = 0; i < 50; i++) {
      clock.advance(1000);
      await tessera.validate(session.accessToken);
    }
    // 50 s of requests: inside one interval of the upgrade, nothing written.
    expect(spy).not.toHaveBeenCalled();
    clock.advance(TOUCH_MS);
    await tessera.validate(session.accessToken);
    expect(spy).toHaveBeenCalledTimes(1);
    await vi.waitFor(async () => {
      const stored = await store.getSession(session.sessionId);
      expect(stored?.lastSeenAt).toBe(start + 50_000 + TOUCH_MS);
    });
  });

  it("a session used on another engine sharing the store is not idle here, although this cache says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-idle-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "tessera.db");
    const clock = testClock();
    const open = async () => {
      const store = SqliteStore.open({ path });
      const tessera = await Tessera.create({
        store,
        clock,
        passwords: FAST_PASSWORDS,
        idleTimeoutSeconds: IDLE_S,
      });
      cleanup.push(async () => {
        tessera.close();
        await store.close();
      });
      return tessera;
    };
    const here = await open();
    const there = await open();
    const { pair } = await loggedIn(here);
    const session = await here.upgrade(pair.accessToken);
    await here.validate(session.accessToken); // cached here
    clock.advance(IDLE_MS);
    await there.validate(session.accessToken); // a use elsewhere, written to the store
    await vi.waitFor(async () => {
      expect((await there.getSession(session.sessionId))?.lastSeenAt).toBe(new Date(clock()).toISOString());
    });
    clock.advance(TOUCH_MS + 1000);
    // Past the deadline this engine's cache computes; the store knows better.
    expect((await here.validate(session.accessToken)).session.id).toBe(session.sessionId);
    clock.advance(IDLE_MS + TOUCH_MS);
    expect(await codeOf(here.validate(session.accessToken))).toBe("token_expired");
    expect(await codeOf(there.validate(session.accessToken))).toBe("token_expired");
  });

  it("0 turns the rule off", async () => {
    const { tessera, clock } = await engine(0);
    const { pair } = await loggedIn(tessera);
    const session = await tessera.upgrade(pair.accessToken);
    clock.advance(13 * 24 * 3600 * 1000);
    expect((await tessera.validate(session.accessToken)).session.id).toBe(session.sessionId);
  });

  it("refuses a negative timeout at start", async () => {
    await expect(makeEngine({ idleTimeoutSeconds: -1 })).rejects.toThrow(/idleTimeoutSeconds/);
  });
});
