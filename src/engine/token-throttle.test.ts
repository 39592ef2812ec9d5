import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { generateOpaqueToken } from "../tokens/opaque.js";
import { TokenThrottle } from "./token-throttle.js";

const from = (ipAddress: string) => ({ ipAddress });

describe("token-guessing throttle", () => {
  it("an address presenting many unknown session tokens gets rate_limited with a retry delay, others do not", async () => {
    const { tessera, clock } = await makeEngine({ tokenThrottle: { maxFailures: 5, baseDelaySeconds: 10 } });
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(tessera.validate(generateOpaqueToken("session"), from("10.0.0.1")))).toBe(
        "token_invalid",
      );
    }
    const refused = await tessera.validate(generateOpaqueToken("session"), from("10.0.0.1")).catch((e) => e);
    expect(refused).toMatchObject({ code: "rate_limited", retryAfterSeconds: 10 });
    // Another address is not affected.
    expect(await codeOf(tessera.validate(generateOpaqueToken("session"), from("10.0.0.2")))).toBe(
      "token_invalid",
    );
    clock.advance(10_000);
    expect(await codeOf(tessera.validate(generateOpaqueToken("session"), from("10.0.0.1")))).toBe(
      "token_invalid",
    );
    // Still over the limit: the next refusal lasts twice as long.
    expect(await tessera.validate("junk", from("10.0.0.1")).catch((e) => e)).toMatchObject({
      code: "rate_limited",
      retryAfterSeconds: 20,
    });
  });

  it("counts unknown refresh and link tokens and forged JWTs the same way", async () => {
    const { tessera } = await makeEngine({ tokenThrottle: { maxFailures: 3 } });
    const { pair } = await loggedIn(tessera);
    const forged = `${pair.accessToken.slice(0, -4)}AAAA`;
    expect(
      await codeOf(tessera.refresh(generateOpaqueToken("refresh"), { metadata: from("10.1.1.1") })),
    ).toBe("token_invalid");
    expect(await codeOf(tessera.redeemLink(generateOpaqueToken("link"), from("10.1.1.1")))).toBe(
      "token_invalid",
    );
    expect(await codeOf(tessera.validate(forged, from("10.1.1.1")))).toBe("token_invalid");
    expect(await codeOf(tessera.peekLink(generateOpaqueToken("link"), from("10.1.1.1")))).toBe(
      "rate_limited",
    );
    expect(await codeOf(tessera.upgrade(pair.accessToken, from("10.1.1.1")))).toBe("rate_limited");
  });

  it("valid tokens are never counted, and a cached valid token is answered even from a throttled address", async () => {
    const { tessera } = await makeEngine({ tokenThrottle: { maxFailures: 2 } });
    const { pair } = await loggedIn(tessera);
    const session = await tessera.upgrade(pair.accessToken, from("10.2.2.2"));
    for (let i = 0; i < 50; i++) await tessera.validate(session.accessToken, from("10.2.2.2"));
    for (let i = 0; i < 2; i++)
      await codeOf(tessera.validate(generateOpaqueToken("session"), from("10.2.2.2")));
    expect(await codeOf(tessera.validate(generateOpaqueToken("session"), from("10.2.2.2")))).toBe(
      "rate_limited",
    );
    await expect(tessera.validate(session.accessToken, from("10.2.2.2"))).resolves.toMatchObject({
      credential: "session",
    });
  });

  it("expired and revoked tokens are not guesses and do not count", async () => {
    const { tessera } = await makeEngine({ tokenThrottle: { maxFailures: 2 } });
    const { pair } = await loggedIn(tessera);
    const session = await tessera.upgrade(pair.accessToken);
    await tessera.logout(session.sessionId);
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(tessera.validate(session.accessToken, from("10.3.3.3")))).toBe("token_revoked");
    }
  });

  it("keeps a bounded number of addresses, dropping the one that failed longest ago", () => {
    const throttle = new TokenThrottle({ maxFailures: 2, maxTracked: 100 });
    for (let i = 0; i < 1000; i++) throttle.failure(`10.9.${i >> 8}.${i & 255}`, i);
    expect(throttle.size).toBe(100);
    throttle.failure("10.9.3.231", 2000);
    throttle.failure("10.9.3.231", 2001);
    expect(() => throttle.check("10.9.3.231", 2002)).toThrow(
      expect.objectContaining({ code: "rate_limited" }),
    );
  });

  it("without an address (library calls) nothing is throttled", async () => {
    const { tessera } = await makeEngine({ tokenThrottle: { maxFailures: 1 } });
    for (let i = 0; i < 5; i++)
      expect(await codeOf(tessera.validate(generateOpaqueToken("session")))).toBe("token_invalid");
  });
});
