import { describe, expect, it } from "vitest";
import { codeOf, makeEngine } from "../../test/kit.js";
import { MemoryStore } from "../stores/memory/memory-store.js";
import { LoginThrottle } from "./throttle.js";

describe("login throttling", () => {
  it("after five failures for one username further attempts get rate_limited before any hashing", async () => {
    const { tessera, clock } = await makeEngine();
    await tessera.register({ username: "target", password: "secret123" });
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(tessera.login({ username: "target", password: `wrong-${i}-pass` }))).toBe(
        "invalid_credentials",
      );
    }
    const error = await tessera.login({ username: "target", password: "secret123" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "rate_limited", retryAfterSeconds: 1 });
    clock.advance(1000);
    // The right password after the delay succeeds and resets the counter.
    await expect(tessera.login({ username: "target", password: "secret123" })).resolves.toBeTruthy();
    expect(await codeOf(tessera.login({ username: "target", password: "wrong-again" }))).toBe(
      "invalid_credentials",
    );
  });

  it("the delay doubles with every further failure and is capped", async () => {
    const throttle = new LoginThrottle(new MemoryStore(), { maxFailuresPerUser: 2, maxDelaySeconds: 8 });
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      await throttle.failure("u", null, now);
      try {
        await throttle.check("u", null, now);
        waits.push(0);
      } catch (error) {
        waits.push((error as { retryAfterSeconds: number }).retryAfterSeconds);
      }
      now += 100_000;
    }
    expect(waits).toEqual([0, 1, 2, 4, 8, 8, 8]);
  });

  it("one IP failing across many usernames is throttled, and a success elsewhere does not reset it", async () => {
    const throttle = new LoginThrottle(new MemoryStore(), { maxFailuresPerIp: 3 });
    for (const name of ["a", "b", "c"]) await throttle.failure(name, "10.0.0.1", 0);
    await throttle.success("d");
    await expect(throttle.check("e", "10.0.0.1", 0)).rejects.toThrow(/Too many failed logins/);
    await expect(throttle.check("e", "10.0.0.2", 0)).resolves.toBeUndefined();
  });

  it("two engines on one store share the counters, so two nodes do not double the limit", async () => {
    const store = new MemoryStore();
    const first = await makeEngine({ store, loginThrottle: { maxFailuresPerUser: 4 } });
    const second = await makeEngine({ store, loginThrottle: { maxFailuresPerUser: 4 } });
    await first.tessera.register({ username: "shared", password: "secret123" });
    for (const { tessera } of [first, second, first, second]) {
      expect(await codeOf(tessera.login({ username: "shared", password: "wrong-pass" }))).toBe(
        "invalid_credentials",
      );
    }
    expect(await codeOf(second.tessera.login({ username: "shared", password: "secret123" }))).toBe(
      "rate_limited",
    );
    expect(await codeOf(first.tessera.login({ username: "shared", password: "secret123" }))).toBe(
      "rate_limited",
    );
  });

  it("a store that cannot count failures makes the login fail closed with unavailable", async () => {
    const store = new MemoryStore();
    const { tessera } = await makeEngine({ store });
    await tessera.register({ username: "closed", password: "secret123" });
    await store.close();
    expect(await codeOf(tessera.login({ username: "closed", password: "secret123" }))).toBe("unavailable");
  });

  it("unknown users are throttled like known ones", async () => {
    const { tessera } = await makeEngine({ loginThrottle: { maxFailuresPerUser: 2 } });
    await codeOf(tessera.login({ username: "ghost", password: "whatever-1" }));
    await codeOf(tessera.login({ username: "ghost", password: "whatever-2" }));
    expect(await codeOf(tessera.login({ username: "ghost", password: "whatever-3" }))).toBe("rate_limited");
  });
});
