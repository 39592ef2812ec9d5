import { describe, expect, it } from "vitest";
import { codeOf, makeEngine } from "../../test/kit.js";
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

  it("the delay doubles with every further failure and is capped", () => {
    const throttle = new LoginThrottle({ maxFailuresPerUser: 2, maxDelaySeconds: 8 });
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      throttle.failure("u", null, now);
      try {
        throttle.check("u", null, now);
        waits.push(0);
      } catch (error) {
        waits.push((error as { retryAfterSeconds: number }).retryAfterSeconds);
      }
      now += 100_000;
    }
    expect(waits).toEqual([0, 1, 2, 4, 8, 8, 8]);
  });

  it("one IP failing across many usernames is throttled, and a success elsewhere does not reset it", () => {
    const throttle = new LoginThrottle({ maxFailuresPerIp: 3 });
    for (const name of ["a", "b", "c"]) throttle.failure(name, "10.0.0.1", 0);
    throttle.success("d");
    expect(() => throttle.check("e", "10.0.0.1", 0)).toThrow(/Too many failed logins/);
    expect(() => throttle.check("e", "10.0.0.2", 0)).not.toThrow();
  });

  it("unknown users are throttled like known ones", async () => {
    const { tessera } = await makeEngine({ loginThrottle: { maxFailuresPerUser: 2 } });
    await codeOf(tessera.login({ username: "ghost", password: "whatever-1" }));
    await codeOf(tessera.login({ username: "ghost", password: "whatever-2" }));
    expect(await codeOf(tessera.login({ username: "ghost", password: "whatever-3" }))).toBe("rate_limited");
  });
});
