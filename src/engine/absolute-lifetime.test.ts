/**
 * The absolute lifetime (NIST SP 800-63B rev. 4 §2.2.3's "reauthentication regardless of
 * activity"): refresh and reissue move a session's expiry up to its cap, fixed at login,
 * and no further; past the cap every credential of it is `token_expired`, however often it
 * was used. The idle rule is off so that only the cap is under test.
 */
import { describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";

const DAY_MS = 24 * 3600 * 1000;
/** 14-day sessions under a 20-day cap. */
const POLICY = { idleTimeoutSeconds: 0, absoluteLifetimeSeconds: 20 * 24 * 3600 } as const;

describe("absolute lifetime", () => {
  it("is fixed at login as maxExpiresAt and shown on the session", async () => {
    const { tessera, clock } = await makeEngine(POLICY);
    const loginAt = clock();
    const { pair } = await loggedIn(tessera);
    const session = await tessera.getSession(pair.sessionId);
    expect(session?.maxExpiresAt).toBe(new Date(loginAt + 20 * DAY_MS).toISOString());
    expect(session?.expiresAt).toBe(new Date(loginAt + 14 * DAY_MS).toISOString());
  });

  it("a cap shorter than the session lifetime is the session's expiry from the start", async () => {
    const { tessera, clock } = await makeEngine({ idleTimeoutSeconds: 0, absoluteLifetimeSeconds: 3600 });
    const loginAt = clock();
    const { pair } = await loggedIn(tessera);
    expect(pair.refreshExpiration).toBe(new Date(loginAt + 3600_000).toISOString());
  });

  it("refresh extends the session up to the cap and no further", async () => {
    const { tessera, clock } = await makeEngine(POLICY);
    const loginAt = clock();
    const { pair } = await loggedIn(tessera);
    clock.advance(2 * DAY_MS);
    const first = await tessera.refresh(pair.refreshToken);
    expect(first.refreshExpiration).toBe(new Date(loginAt + 16 * DAY_MS).toISOString());
    clock.advance(11 * DAY_MS);
    const second = await tessera.refresh(first.refreshToken);
    expect(second.refreshExpiration).toBe(new Date(loginAt + 20 * DAY_MS).toISOString());
    // At the cap a refresh still rotates the tokens, but moves nothing.
    clock.advance(DAY_MS);
    const third = await tessera.refresh(second.refreshToken);
    expect(third.refreshExpiration).toBe(new Date(loginAt + 20 * DAY_MS).toISOString());
    // An access JWT never outlives the capped session either.
    expect(Date.parse(third.accessExpiration)).toBeLessThanOrEqual(loginAt + 20 * DAY_MS);
  });

  it("reissue extends up to the cap and no further", async () => {
    const { tessera, clock } = await makeEngine(POLICY);
    const loginAt = clock();
    const { pair } = await loggedIn(tessera);
    clock.advance(13 * DAY_MS);
    const pushed = await tessera.reissue(pair.sessionId);
    expect(pushed.refreshExpiration).toBe(new Date(loginAt + 20 * DAY_MS).toISOString());
    expect((await tessera.getSession(pair.sessionId))?.expiresAt).toBe(pushed.refreshExpiration);
  });

  it("past the cap the session token, the access JWT, refresh and reissue all answer token_expired", async () => {
    const { tessera, clock } = await makeEngine(POLICY);
    const { pair } = await loggedIn(tessera);
    const upgraded = await tessera.upgrade(pair.accessToken);
    clock.advance(13 * DAY_MS);
    const kept = await tessera.refresh(upgraded.refreshToken);
    // Used up to the last moment: validations are cache hits, and still the cap holds.
    clock.advance(7 * DAY_MS - 1);
    await expect(tessera.validate(kept.accessToken)).resolves.toMatchObject({ credential: "session" });
    clock.advance(1);
    expect(await codeOf(tessera.validate(kept.accessToken))).toBe("token_expired");
    expect(await codeOf(tessera.refresh(kept.refreshToken))).toBe("token_expired");
    expect(await codeOf(tessera.reissue(pair.sessionId))).toBe("token_expired");
    expect(await codeOf(tessera.checkSession(pair.sessionId))).toBe("token_expired");
  });

  it("an access JWT of a capped session is token_expired too, even while the JWT itself is valid", async () => {
    const { tessera, clock } = await makeEngine({ idleTimeoutSeconds: 0, absoluteLifetimeSeconds: 600 });
    const { pair } = await loggedIn(tessera);
    await tessera.validate(pair.accessToken); // cached
    clock.advance(600_000);
    expect(await codeOf(tessera.validate(pair.accessToken))).toBe("token_expired");
  });

  it("refuses a cap that is not a positive number", async () => {
    await expect(makeEngine({ absoluteLifetimeSeconds: 0 })).rejects.toThrow(/absoluteLifetimeSeconds/);
    await expect(makeEngine({ absoluteLifetimeSeconds: Number.NaN })).rejects.toThrow(
      /absoluteLifetimeSeconds/,
    );
  });
});
