import { describe, expect, it } from "vitest";
import { Limiter } from "./limiter.js";
import { PasswordHasher } from "./password-hasher.js";

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
