/**
 * Self-service registration and its two rules — the deployment's `registration` setting
 * and the `beforeRegister` hook — against the operator's `createUser`, which neither
 * touches.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { codeOf, makeEngine } from "../../test/kit.js";
import { TesseraError } from "../errors.js";

describe("registration", () => {
  it("closed registration refuses register with registration_closed and creates nobody", async () => {
    const { tessera } = await makeEngine({ registration: "closed" });
    expect(await codeOf(tessera.register({ username: "hero", password: "secret123" }))).toBe(
      "registration_closed",
    );
    expect(await tessera.findUser("hero")).toBeNull();
  });

  it("createUser works whether registration is open or closed, and skips the hook", async () => {
    const { tessera } = await makeEngine({ registration: "closed" });
    let calls = 0;
    tessera.hook("beforeRegister", () => {
      calls += 1;
      throw new TesseraError("forbidden", "No.");
    });
    const user = await tessera.createUser({ username: "hero", password: "secret123" });
    expect(user.username).toBe("hero");
    expect((await tessera.login({ username: "hero", password: "secret123" })).user.id).toBe(user.id);
    expect(calls).toBe(0);
    expect(await codeOf(tessera.createUser({ username: "HERO", password: "secret123" }))).toBe(
      "username_taken",
    );
  });

  it("a beforeRegister hook sees the normalised name and the request, and may refuse", async () => {
    const { tessera } = await makeEngine();
    const seen: unknown[] = [];
    tessera.hook("beforeRegister", ({ username, source, metadata }) => {
      seen.push({ username, source, metadata });
      if (!username.endsWith("@example.com")) {
        throw new TesseraError("forbidden", "Only example.com addresses may register.");
      }
    });
    expect(
      await codeOf(
        tessera.register({
          username: " mallory@evil.test ",
          password: "secret123",
          metadata: { ipAddress: "192.0.2.1" },
        }),
      ),
    ).toBe("forbidden");
    expect(await tessera.findUser("mallory@evil.test")).toBeNull();
    await tessera.register({ username: "ada@example.com", password: "secret123" });
    expect(seen).toEqual([
      { username: "mallory@evil.test", source: "register", metadata: { ipAddress: "192.0.2.1" } },
      { username: "ada@example.com", source: "register", metadata: {} },
    ]);
  });

  it("a hook that throws something else is internal_error, and nothing is written", async () => {
    const { tessera } = await makeEngine();
    tessera.hook("beforeRegister", () => {
      throw new Error("directory down");
    });
    expect(await codeOf(tessera.register({ username: "hero", password: "secret123" }))).toBe(
      "internal_error",
    );
    expect(await tessera.findUser("hero")).toBeNull();
  });

  it("the hook also sees a provider meeting a username for the first time, and can stop it", async () => {
    const { tessera } = await makeEngine();
    tessera.registerProvider({
      name: "badge",
      schema: z.object({ badge: z.string() }).strict(),
      async authenticate(input, context) {
        return { user: await context.findOrCreateUser(input.badge) };
      },
    });
    const sources: string[] = [];
    tessera.hook("beforeRegister", ({ username, source }) => {
      sources.push(source);
      if (username === "blocked") throw new TesseraError("forbidden", "No new badges.");
    });
    expect(await codeOf(tessera.loginWith("badge", { badge: "blocked" }))).toBe("forbidden");
    expect(await tessera.findUser("blocked")).toBeNull();
    await tessera.loginWith("badge", { badge: "4711" });
    await tessera.loginWith("badge", { badge: "4711" }); // known by now: no hook
    expect(sources).toEqual(["provider", "provider"]);
  });

  it("refuses a registration setting that is neither open nor closed", async () => {
    await expect(makeEngine({ registration: "ajar" as "open" })).rejects.toThrow(/registration/);
  });
});
