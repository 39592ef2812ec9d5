import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import { makeEngine } from "../../test/kit.js";
import { Limiter } from "./limiter.js";
import { type Argon2, PasswordHasher } from "./password-hasher.js";

/** The real argon2, counting its calls. */
function countingArgon2(): Argon2 & { hashes: number; verifies: number } {
  const counter = {
    hashes: 0,
    verifies: 0,
    hash: ((...args: Parameters<typeof hash>) => {
      counter.hashes++;
      return hash(...args);
    }) as typeof hash,
    verify: ((...args: Parameters<typeof verify>) => {
      counter.verifies++;
      return verify(...args);
    }) as typeof verify,
  };
  return counter;
}

describe("password hashing", () => {
  it("uses argon2id at OWASP's parameters by default and verifies what it hashed", async () => {
    const hasher = new PasswordHasher();
    const phc = await hasher.hash("correct horse battery");
    expect(phc).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await hasher.verifyOrDummy(phc, "correct horse battery")).toBe(true);
    expect(await hasher.verifyOrDummy(phc, "wrong horse battery")).toBe(false);
  });

  it("an unknown user is verified against a real dummy hash and always fails", async () => {
    const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1 });
    expect(await hasher.verifyOrDummy(null, "tessera-dummy-password-for-unknown-users")).toBe(false);
    expect(await hasher.verifyOrDummy(null, "anything")).toBe(false);
  });

  it("the engine warms the dummy hash at start, so the first unknown-user login costs what later ones do", async () => {
    const argon2 = countingArgon2();
    const { tessera } = await makeEngine({ passwords: { memoryCost: 1024, timeCost: 1, argon2 } });
    const attempt = () => tessera.login({ username: "nobody-here", password: "whatever1" }).catch(() => null);
    // Warmed by then: the dummy hash and one verification against it, then the login's own.
    await attempt();
    expect({ hashes: argon2.hashes, verifies: argon2.verifies }).toEqual({ hashes: 1, verifies: 2 });
    await attempt();
    expect({ hashes: argon2.hashes, verifies: argon2.verifies }).toEqual({ hashes: 1, verifies: 3 });
  });

  it("a login during the warm-up waits for it, known user or not, and create() does not", async () => {
    // The real argon2, with the dummy hash held at a gate this test opens.
    const DUMMY = "tessera-dummy-password-for-unknown-users";
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const verified: string[] = [];
    const argon2: Argon2 = {
      hash: (async (...args: Parameters<typeof hash>) => {
        if (args[0] === DUMMY) await gate;
        return hash(...args);
      }) as typeof hash,
      verify: ((...args: Parameters<typeof verify>) => {
        verified.push(String(args[1]));
        return verify(...args);
      }) as typeof verify,
    };
    // Resolves with the dummy hash still held: the warm-up runs in the background.
    const { tessera } = await makeEngine({ passwords: { memoryCost: 1024, timeCost: 1, argon2 } });
    await tessera.register({ username: "ada", password: "correct horse" });
    const known = tessera.login({ username: "ada", password: "wrong horse1" }).catch(() => null);
    const unknown = tessera.login({ username: "nobody-here", password: "wrong horse2" }).catch(() => null);
    // The memory store answers in microtasks: both logins are as far as they get before a turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(verified).toEqual([]);
    open();
    await Promise.all([known, unknown]);
    // The warm-up's verification first; neither login verified before the dummy hash existed.
    expect(verified[0]).toBe("tessera-warm-up");
    expect(verified.slice(1).sort()).toEqual(["wrong horse1", "wrong horse2"]);
  });

  it("hashes on one core fewer than the machine has (at least one), leaving the event loop a core", () => {
    expect(new PasswordHasher().concurrency).toBe(Math.max(1, availableParallelism() - 1));
    expect(new PasswordHasher({ concurrency: 3 }).concurrency).toBe(3);
  });

  it("a corrupt stored hash verifies as false rather than throwing", async () => {
    const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1 });
    expect(await hasher.verifyOrDummy("$argon2id$garbage", "secret123")).toBe(false);
  });

  it("over-long passwords are refused by policy and never reach argon2 on login", async () => {
    const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1, maxLength: 64 });
    expect(() => hasher.checkPolicy("x".repeat(65))).toThrow(/at most 64/);
    const phc = await hasher.hash("x".repeat(64));
    expect(await hasher.verifyOrDummy(phc, "x".repeat(65))).toBe(false);
  });
});

describe("the hashing limiter", () => {
  it("runs at most `concurrency` tasks at once and refuses past the queue with rate_limited", async () => {
    const limiter = new Limiter(2, 1);
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const task = () =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      });
    const a = task();
    const b = task();
    const c = task(); // queued
    await expect(task()).rejects.toMatchObject({ code: "rate_limited", retryAfterSeconds: 1 });
    expect(limiter.pending).toBe(1);
    while (releases.length > 0 || running > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([a, b, c]);
    expect(peak).toBe(2);
  });
});

describe("a login past the hashing queue", () => {
  it("is refused before the throttle or the store is asked (a flood's refusals cost nothing)", async () => {
    // The real argon2, with its verifications held at a gate this test opens.
    const held: Array<() => void> = [];
    let gate = false; // closed for the logins only, never for the engine's warm-up
    let reached: () => void = () => undefined;
    const verifying = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const gated: Argon2 = {
      hash,
      verify: async (...args: Parameters<typeof verify>) => {
        if (!gate || args[1] === "tessera-warm-up") return verify(...args);
        reached();
        await new Promise<void>((resolve) => held.push(resolve));
        return verify(...args);
      },
    };
    const { faulty } = await import("../../test/faulty-store.js");
    const { MemoryStore } = await import("../stores/memory/memory-store.js");
    const fault = faulty(new MemoryStore());
    const { tessera } = await makeEngine({
      store: fault.store,
      passwords: { memoryCost: 1024, timeCost: 1, concurrency: 1, maxQueue: 0, argon2: gated },
    });
    await tessera.register({ username: "hero", password: "secret123" });
    gate = true;
    const first = tessera.login({ username: "hero", password: "secret123" });
    await verifying; // the only hashing slot is taken
    fault.down();
    // With the store down, asking it would answer `unavailable`: the refusal comes first.
    await expect(tessera.login({ username: "hero", password: "wrong-password" })).rejects.toMatchObject({
      code: "rate_limited",
    });
    fault.up();
    for (const release of held) release();
    await expect(first).resolves.toMatchObject({ accessToken: expect.any(String) });
    tessera.close();
  });
});
