import { afterEach, describe, expect, it } from "vitest";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import { digestToken } from "../tokens/opaque.js";
import { redirectShapeProblem } from "./links.js";

const engines: { close(): void }[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

async function setup() {
  const made = await makeEngine();
  engines.push(made.tessera);
  const { pair, user } = await loggedIn(made.tessera);
  const { session } = await made.tessera.validate(pair.accessToken);
  return { ...made, user, session };
}

describe("links", () => {
  it("a redeemed link starts a session-token session carrying the link's data", async () => {
    const { tessera, session, user } = await setup();
    const data = { order: 42, items: ["a", "b"], note: "ünïcode ✓" };
    const link = await tessera.issueLink({ session, data, redirectTo: "/welcome" });
    expect(link.token).toMatch(/^tsl_/);
    expect(link.path).toBe(`/auth/links/${link.token}`);

    const redeemed = await tessera.redeemLink(link.token, { userAgent: "mail-client" });
    expect(redeemed.pair.tokenType).toBe("session");
    expect(redeemed.pair.accessToken).toMatch(/^tss_/);
    expect(redeemed.pair.user).toEqual(user);
    expect(redeemed.session.data).toEqual(data);
    expect(redeemed.session.id).not.toBe(session.id);
    expect(redeemed.link.redirectTo).toBe("/welcome");
    const validated = await tessera.validate(redeemed.pair.accessToken);
    expect(validated.session.data).toEqual(data);
    expect(validated.session.metadata.userAgent).toBe("mail-client");
  });

  it("stores only the token's digest, never the token", async () => {
    const { tessera, store, session } = await setup();
    const link = await tessera.issueLink({ session, data: { x: 1 } });
    const record = await store.peekLink(digestToken(link.token));
    expect(record?.hash).toBe(digestToken(link.token));
    expect(JSON.stringify(record)).not.toContain(link.token);
  });

  it("a second redemption is link_used and makes no session", async () => {
    const { tessera, session, user } = await setup();
    const link = await tessera.issueLink({ session });
    await tessera.redeemLink(link.token);
    const before = (await tessera.listSessions(user.id)).length;
    expect(await codeOf(tessera.redeemLink(link.token))).toBe("link_used");
    expect(await codeOf(tessera.peekLink(link.token))).toBe("link_used");
    expect((await tessera.listSessions(user.id)).length).toBe(before);
  });

  it("of many concurrent redemptions exactly one succeeds", async () => {
    const { tessera, session, user } = await setup();
    const link = await tessera.issueLink({ session, data: { n: 1 } });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => tessera.redeemLink(link.token)),
    );
    const won = results.filter((result) => result.status === "fulfilled");
    const codes = results.flatMap((result) => (result.status === "rejected" ? [result.reason.code] : []));
    expect(won).toHaveLength(1);
    expect(new Set(codes)).toEqual(new Set(["link_used"]));
    expect((await tessera.listSessions(user.id)).length).toBe(2);
  });

  it("an expired link is link_expired, by peek and by redemption (ttl defaults to 10 minutes)", async () => {
    const { tessera, session, clock } = await setup();
    const link = await tessera.issueLink({ session });
    expect(Date.parse(link.expiresAt) - clock()).toBe(600_000);
    clock.advance(599_000);
    expect((await tessera.peekLink(link.token)).confirm).toBe(false);
    clock.advance(1_000);
    expect(await codeOf(tessera.peekLink(link.token))).toBe("link_expired");
    expect(await codeOf(tessera.redeemLink(link.token))).toBe("link_expired");
  });

  it("malformed and unknown link tokens are token_invalid", async () => {
    const { tessera, session } = await setup();
    const link = await tessera.issueLink({ session });
    const flipped = `${link.token.slice(0, 10)}${link.token[10] === "A" ? "B" : "A"}${link.token.slice(11)}`;
    const error = await tessera.redeemLink(flipped).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "token_invalid" });
    expect(String((error as Error).message)).not.toContain(flipped);
    expect(await codeOf(tessera.redeemLink("tsl_short"))).toBe("token_invalid");
    const sessionLike = `tss_${link.token.slice(4)}`;
    expect(await codeOf(tessera.redeemLink(sessionLike))).toBe("token_invalid");
    // Well-formed, but never issued.
    const { generateOpaqueToken } = await import("../tokens/opaque.js");
    expect(await codeOf(tessera.redeemLink(generateOpaqueToken("link")))).toBe("token_invalid");
    expect(await codeOf(tessera.peekLink(generateOpaqueToken("link")))).toBe("token_invalid");
  });

  it("peeking never consumes", async () => {
    const { tessera, session } = await setup();
    const link = await tessera.issueLink({ session, confirm: true, redirectTo: "https://app.example/x" });
    for (let i = 0; i < 3; i++) {
      expect(await tessera.peekLink(link.token)).toMatchObject({
        confirm: true,
        redirectTo: "https://app.example/x",
      });
    }
    await tessera.redeemLink(link.token);
  });

  it("refuses bad ttl, bad redirect shapes, oversized data and unknown users", async () => {
    const { tessera, session } = await setup();
    for (const ttlSeconds of [0, -1, 1.5, 86_401]) {
      expect(await codeOf(tessera.issueLink({ session, ttlSeconds }))).toBe("invalid_request");
    }
    expect(Date.parse((await tessera.issueLink({ session, ttlSeconds: 86_400 })).expiresAt)).toBeGreaterThan(
      0,
    );
    for (const redirectTo of [
      "//evil.example",
      "javascript:alert(1)",
      "/\\evil",
      "https://u:p@x.example/",
      "x y",
    ]) {
      expect(await codeOf(tessera.issueLink({ session, redirectTo }))).toBe("invalid_request");
    }
    const big = "x".repeat(tessera.options.maxDataBytes);
    expect(await codeOf(tessera.issueLink({ session, data: big }))).toBe("payload_too_large");
    expect(await codeOf(tessera.issueLink({ userId: 999_999 }))).toBe("not_found");
  });

  it("a link issued without a session, for a user id, works the same", async () => {
    const { tessera, user } = await setup();
    const link = await tessera.issueLink({ userId: user.id, data: "hello", deviceId: "kiosk-1" });
    const redeemed = await tessera.redeemLink(link.token);
    expect(redeemed.session.deviceId).toBe("kiosk-1");
    expect(redeemed.session.data).toBe("hello");
  });
});

describe("redirectShapeProblem", () => {
  it("accepts paths and http(s) URLs and refuses everything a browser could read as another host", () => {
    expect(redirectShapeProblem("/")).toBeNull();
    expect(redirectShapeProblem("/a/b?c=d#e")).toBeNull();
    expect(redirectShapeProblem("https://app.example/path")).toBeNull();
    for (const bad of [
      "",
      "//x.example",
      "/\\x.example",
      "\\\\x",
      "ftp://x.example",
      "data:text/html,x",
      "/a\nb",
    ]) {
      expect(redirectShapeProblem(bad), bad).not.toBeNull();
    }
  });
});
