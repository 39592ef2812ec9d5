/**
 * Test fixtures: an engine on a real store with a controllable clock and cheap argon2
 * parameters (the production parameters are tested on their own in password-hasher.test.ts).
 */

import type { TesseraOptions } from "../src/engine/options.js";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import type { SessionStore } from "../src/stores/session-store.js";

export interface TestClock {
  (): number;
  advance(ms: number): void;
  set(ms: number): void;
}

export function testClock(start = Date.UTC(2026, 10, 22, 12, 0, 0)): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.advance = (ms) => {
    now += ms;
  };
  clock.set = (ms) => {
    now = ms;
  };
  return clock;
}

export const FAST_PASSWORDS = { memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

export async function makeEngine(
  options: Partial<TesseraOptions> & { store?: SessionStore } = {},
): Promise<{ tessera: Tessera; store: SessionStore; clock: TestClock }> {
  const clock = testClock();
  const store = options.store ?? new MemoryStore();
  const tessera = await Tessera.create({ clock, passwords: FAST_PASSWORDS, ...options, store });
  return { tessera, store, clock: (options.clock as TestClock | undefined) ?? clock };
}

/** Registers `hero` / `secret123` and logs in, returning the JWT pair. */
export async function loggedIn(tessera: Tessera, deviceId?: string) {
  const username = `hero-${Math.random().toString(36).slice(2, 8)}`;
  const user = await tessera.register({ username, password: "secret123" });
  const pair = await tessera.login({ username, password: "secret123", ...(deviceId ? { deviceId } : {}) });
  return { user, pair, username };
}

/** The error code a promise rejects with (fails the test if it resolves). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? `not a TesseraError: ${String(error)}`;
  }
  throw new Error("expected a rejection, but the call succeeded");
}
