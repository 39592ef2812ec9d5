import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { codeOf, loggedIn, makeEngine } from "../../test/kit.js";
import type { PluginHooks, PluginRoute } from "./plugins.js";
import type { AuthProvider } from "./providers.js";
import type { Tessera } from "./tessera.js";

const engines: Tessera[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

async function engine() {
  const made = await makeEngine();
  engines.push(made.tessera);
  return made.tessera;
}

const ok: PluginRoute["handler"] = () => ({ body: { ok: true } });

const memberProvider: AuthProvider<{ member: string }> = {
  name: "member",
  schema: z.object({ member: z.string().min(1) }).strict(),
  async authenticate(input, context) {
    return { user: await context.findOrCreateUser(input.member), data: { member: input.member } };
  },
};

describe("tessera.use", () => {
  it("installs a plugin's providers, hooks and routes, then runs its setup", async () => {
    const tessera = await engine();
    const created: string[] = [];
    let setupSaw: Tessera | null = null;
    await tessera.use({
      name: "membership",
      providers: [memberProvider],
      hooks: { sessionCreated: ({ provider }) => void created.push(provider) },
      routes: [{ method: "GET", path: "/membership/ping", handler: ok }],
      setup(api) {
        setupSaw = api.tessera;
        api.route({ method: "POST", path: "/membership/:id/renew", auth: true, handler: ok });
      },
    });
    expect(setupSaw).toBe(tessera);
    expect(tessera.plugins()).toEqual(["membership"]);
    const pair = await tessera.loginWith("member", { member: "m-1" });
    expect((await tessera.validate(pair.accessToken)).session.data).toEqual({ member: "m-1" });
    expect(created).toEqual(["member"]);
    const routes = tessera.takePluginRoutes();
    expect(routes.map(({ plugin, route }) => `${plugin} ${route.method} ${route.path}`)).toEqual([
      "membership GET /membership/ping",
      "membership POST /membership/:id/renew",
    ]);
  });

  it("refuses a duplicate plugin, a taken provider name, an unknown hook and bad routes, installing nothing", async () => {
    const tessera = await engine();
    await tessera.use({ name: "first", routes: [{ method: "GET", path: "/first", handler: ok }] });
    await expect(tessera.use({ name: "first" })).rejects.toThrow(/already installed/);
    await expect(tessera.use({ name: "Bad Name" })).rejects.toThrow(/must match/);
    await expect(
      tessera.use({ name: "taker", providers: [{ ...memberProvider, name: "password" }] }),
    ).rejects.toThrow(/already registered/);
    await expect(
      tessera.use({ name: "hooker", hooks: { nope: () => undefined } as unknown as PluginHooks }),
    ).rejects.toThrow(/unknown hook/);
    for (const path of ["no-slash", "/a/*", "/a b", "/../x"]) {
      await expect(
        tessera.use({ name: "paths", routes: [{ method: "GET", path, handler: ok }] }),
      ).rejects.toThrow(/path/);
    }
    await expect(
      tessera.use({ name: "clash", routes: [{ method: "GET", path: "/first", handler: ok }] }),
    ).rejects.toThrow(/already added by plugin "first"/);
    expect(tessera.plugins()).toEqual(["first"]);
  });

  it("a setup that throws leaves none of the plugin's hooks behind", async () => {
    const tessera = await engine();
    let calls = 0;
    await expect(
      tessera.use({
        name: "broken",
        hooks: { login: () => void calls++ },
        setup(api) {
          api.hook("sessionCreated", () => void calls++);
          throw new Error("misconfigured");
        },
      }),
    ).rejects.toThrow(/misconfigured/);
    await loggedIn(tessera);
    expect(calls).toBe(0);
    expect(tessera.plugins()).toEqual([]);
  });

  it("a plugin hook can refuse a login", async () => {
    const tessera = await engine();
    const { TesseraError } = await import("../errors.js");
    await tessera.use({
      name: "gate",
      hooks: {
        login: ({ user }) => {
          if (user.username.startsWith("banned")) throw new TesseraError("forbidden", "Not today.");
        },
      },
    });
    await tessera.register({ username: "banned-1", password: "secret123" });
    expect(await codeOf(tessera.login({ username: "banned-1", password: "secret123" }))).toBe("forbidden");
  });

  it("routes added after the HTTP surface took them are refused, not silently dropped", async () => {
    const tessera = await engine();
    tessera.takePluginRoutes();
    await expect(
      tessera.use({ name: "late", routes: [{ method: "GET", path: "/late", handler: ok }] }),
    ).rejects.toThrow(/before the HTTP surface starts/);
    await tessera.use({ name: "no-routes", hooks: {} });
    expect(tessera.plugins()).toEqual(["no-routes"]);
  });
});
