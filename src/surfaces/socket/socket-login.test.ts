/**
 * Login over the socket (seed 003, "fresh client"), over both transports with real
 * clients: an `auth` frame naming a provider logs in, answers `tokens` then `ready`, is
 * throttled like HTTP login, and a flood of socket logins is refused at once past the
 * gateway's bound while the server keeps answering everyone else.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  closeOf,
  expectedClose,
  type Gateways,
  readyClient,
  startGateways,
  type Transport,
} from "../../../test/socket-kit.js";
import type { AuthProvider } from "../../engine/providers.js";

describe.each<Transport>(["websocket", "tcp"])("socket login over %s", (transport) => {
  let gw: Gateways;
  afterEach(() => gw.close());

  async function withUser(): Promise<string> {
    const username = `hero-${Math.random().toString(36).slice(2, 8)}`;
    await gw.tessera.register({ username, password: "secret123" });
    return username;
  }

  it("a password auth frame answers tokens (a session token) then ready, for one session", async () => {
    gw = await startGateways();
    gw.gates.register("echo", ({ data }) => data);
    const username = await withUser();
    const client = await gw.connect(transport);
    client.send({ type: "auth", provider: "password", username, password: "secret123", deviceId: "phone" });
    const tokens = await client.next();
    expect(tokens).toMatchObject({ type: "tokens", tokenType: "session", user: { username } });
    const ready = await client.next();
    expect(ready).toMatchObject({ type: "ready", sessionId: tokens.sessionId });
    // The tokens are real: the session token validates, the refresh token refreshes.
    const validated = await gw.tessera.validate(String(tokens.accessToken));
    expect(validated.session).toMatchObject({ id: tokens.sessionId, deviceId: "phone" });
    client.send({ type: "message", gate: "echo", id: 1, data: "hi" });
    expect(await client.next()).toEqual({ type: "reply", id: 1, data: "hi" });
  });

  it("a provider's own fields log in through that provider", async () => {
    gw = await startGateways();
    const badge: AuthProvider<{ badge: string }> = {
      name: "badge",
      schema: z.object({ badge: z.string().min(3) }).strict(),
      async authenticate(input, context) {
        return { user: await context.findOrCreateUser(`badge-${input.badge}`) };
      },
    };
    gw.tessera.registerProvider(badge);
    const client = await gw.connect(transport);
    client.send({ type: "auth", provider: "badge", badge: "4711" });
    expect(await client.next()).toMatchObject({ type: "tokens", user: { username: "badge-4711" } });
    expect(await client.next()).toMatchObject({ type: "ready" });
  });

  it("a wrong password closes with 4401 invalid_credentials and starts no session", async () => {
    gw = await startGateways();
    const username = await withUser();
    const client = await gw.connect(transport);
    client.send({ type: "auth", provider: "password", username, password: "wrong-password" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "invalid_credentials"));
    const user = await gw.tessera.findUser(username);
    expect(await gw.tessera.listSessions(user?.id ?? 0)).toEqual([]);
  });

  it("fields the provider refuses close with 4400; an unknown provider with 4404", async () => {
    gw = await startGateways();
    const missing = await gw.connect(transport);
    missing.send({ type: "auth", provider: "password", username: "hero" });
    expect(await closeOf(missing)).toEqual(expectedClose(transport, 4400, "invalid_request"));
    const unknown = await gw.connect(transport);
    unknown.send({ type: "auth", provider: "carrier-pigeon", coo: 1 });
    expect(await closeOf(unknown)).toEqual(expectedClose(transport, 4404, "not_found"));
  });

  it("an auth frame with a provider and a token, or a provider that is not a name, is malformed", async () => {
    gw = await startGateways();
    const both = await gw.connect(transport);
    both.send({ type: "auth", provider: "password", token: "tss_x", username: "a", password: "b" });
    expect(await closeOf(both)).toEqual(expectedClose(transport, 4400, "invalid_request"));
    const notName = await gw.connect(transport);
    notName.send({ type: "auth", provider: 7, username: "a", password: "b" });
    expect(await closeOf(notName)).toEqual(expectedClose(transport, 4400, "invalid_request"));
  });

  it("is throttled like HTTP login: after 5 failures the right password gets rate_limited", async () => {
    gw = await startGateways();
    const username = await withUser();
    for (let attempt = 0; attempt < 5; attempt++) {
      const client = await gw.connect(transport);
      client.send({ type: "auth", provider: "password", username, password: "wrong-password" });
      expect(await closeOf(client)).toEqual(expectedClose(transport, 4401, "invalid_credentials"));
    }
    const client = await gw.connect(transport);
    client.send({ type: "auth", provider: "password", username, password: "secret123" });
    expect(await closeOf(client)).toEqual(expectedClose(transport, 4429, "rate_limited"));
    // The same counters as HTTP login: the library's login is throttled too.
    await expect(gw.tessera.login({ username, password: "secret123" })).rejects.toMatchObject({
      code: "rate_limited",
    });
  });

  it("a login flood past the gateway's bound is refused at once while the server answers others", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    const slow: AuthProvider<{ name: string }> = {
      name: "slow",
      schema: z.object({ name: z.string() }).strict(),
      async authenticate(input, context) {
        started += 1;
        await held; // a login that takes as long as the test says
        return { user: await context.findOrCreateUser(input.name) };
      },
    };
    gw = await startGateways({ socket: { maxConcurrentLogins: 2 } });
    gw.tessera.registerProvider(slow);
    const { client: bystander } = await readyClient(gw, transport);

    const flood = await Promise.all(Array.from({ length: 12 }, () => gw.connect(transport)));
    flood.forEach((client, i) => {
      client.send({ type: "auth", provider: "slow", name: `flood-${i}` });
    });
    // Ten are refused while two logins are still held open: nothing waited for them.
    const refused = flood.slice(2);
    const closes = await Promise.all(refused.map((client) => closeOf(client)));
    expect(closes).toEqual(refused.map(() => expectedClose(transport, 4429, "rate_limited")));
    expect(started).toBe(2);
    // Everyone else is still served meanwhile.
    bystander.send({ type: "ping" });
    expect(await bystander.next()).toEqual({ type: "pong" });
    const fresh = await gw.session();
    expect((await gw.tessera.validate(fresh.accessToken)).session.id).toBe(fresh.sessionId);

    release();
    for (const client of flood.slice(0, 2)) {
      expect(await client.next()).toMatchObject({ type: "tokens" });
      expect(await client.next()).toMatchObject({ type: "ready" });
    }
    // The slots are free again.
    const after = await gw.connect(transport);
    after.send({ type: "auth", provider: "slow", name: "after" });
    expect(await after.next()).toMatchObject({ type: "tokens" });
  });
});
