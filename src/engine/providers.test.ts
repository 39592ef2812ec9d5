import { describe, expect, it } from "vitest";
import { z } from "zod";
import { codeOf, makeEngine } from "../../test/kit.js";

describe("providers", () => {
  it("password and its alias unamepwd log in through loginWith", async () => {
    const { tessera } = await makeEngine();
    await tessera.register({ username: "hero", password: "secret123" });
    const a = await tessera.loginWith("password", { username: "hero", password: "secret123" });
    const b = await tessera.loginWith("unamepwd", {
      username: "hero",
      password: "secret123",
      deviceId: "d1",
    });
    expect(a.tokenType).toBe("jwt");
    expect((await tessera.validate(b.accessToken)).session.deviceId).toBe("d1");
  });

  it("unknown fields, missing fields and unknown providers are refused with clear codes", async () => {
    const { tessera } = await makeEngine();
    const error = await tessera
      .loginWith("password", { username: "hero", password: "x", admin: true })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_request" });
    expect(await codeOf(tessera.loginWith("password", { username: "hero" }))).toBe("invalid_request");
    expect(await codeOf(tessera.loginWith("password", "not an object"))).toBe("invalid_request");
    expect(await codeOf(tessera.loginWith("nope", {}))).toBe("not_found");
  });

  it("a custom provider's result starts a session carrying its data", async () => {
    const { tessera } = await makeEngine();
    tessera.registerProvider({
      name: "partner",
      schema: z.object({ member: z.string() }).strict(),
      async authenticate(input, context) {
        const user = await context.findOrCreateUser(input.member);
        return { user, data: { member: input.member }, tokenType: "session" };
      },
    });
    const pair = await tessera.loginWith("partner", { member: "m-42" });
    expect(pair.tokenType).toBe("session");
    expect((await tessera.validate(pair.accessToken)).session.data).toEqual({ member: "m-42" });
    expect(() =>
      tessera.registerProvider({
        name: "password",
        schema: z.unknown(),
        authenticate: async () => ({ user: pair.user }),
      }),
    ).toThrow(/already registered/);
  });
});
