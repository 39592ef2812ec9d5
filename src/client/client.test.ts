import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientTestServer, startClientServer, username } from "../../test/client-kit.js";
import { createClient, memoryStorage, type TesseraClient, TesseraError } from "./index.js";
import type { SignOutReason, TokenPair } from "./types.js";

let server: ClientTestServer;
beforeAll(async () => {
  server = await startClientServer();
});
afterAll(async () => {
  await server.stop();
});

async function signedIn(
  options: { upgrade?: boolean } = {},
): Promise<{ client: TesseraClient; name: string }> {
  const client = createClient({ baseUrl: server.urls.http, mode: "token" });
  const name = username();
  await client.register({ username: name, password: "secret123" });
  await client.login({ username: name, password: "secret123" }, options);
  return { client, name };
}

function signOuts(client: TesseraClient): SignOutReason[] {
  const reasons: SignOutReason[] = [];
  client.on("signedOut", ({ reason }) => reasons.push(reason));
  return reasons;
}

describe("the client in token mode, against a real server", () => {
  it("logs in, keeps the pair and answers typed session calls", async () => {
    const { client, name } = await signedIn();
    const pair = await client.tokens();
    expect(pair?.tokenType).toBe("jwt");
    const session = await client.session();
    expect(session.id).toBe(pair?.sessionId);
    const listed = await client.sessions();
    expect(listed.currentSessionId).toBe(session.id);
    expect((await client.setData({ cart: [1, 2] })).data).toEqual({ cart: [1, 2] });
    const upgraded = await client.upgrade();
    expect(upgraded.tokenType).toBe("session");
    expect((await client.session()).tokenType).toBe("session");
    expect(name).toContain("user-");
  });

  it("rejects with a TesseraError carrying the contract code and status", async () => {
    const client = createClient({ baseUrl: server.urls.http, mode: "token" });
    const error = await client
      .login({ username: username(), password: "nope" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({ code: "invalid_credentials", status: 401 });
    const bad = await client.register({ username: "", password: "x" }).catch((caught: unknown) => caught);
    expect(bad).toMatchObject({ code: "invalid_request", status: 400 });
    expect((bad as TesseraError).issues?.length).toBeGreaterThan(0);
  });

  it("reports an unreachable server as unavailable with status 0", async () => {
    const client = createClient({ baseUrl: "http://127.0.0.1:1", mode: "token" });
    await expect(client.health()).rejects.toMatchObject({ code: "unavailable", status: 0 });
  });

  it("sends the Bearer token only to the server's origin", async () => {
    const seen: (string | null)[] = [];
    const client = createClient({
      baseUrl: server.urls.http,
      mode: "token",
      storage: memoryStorage((await (await signedIn()).client.tokens()) as TokenPair),
      fetch: async (input) => {
        const request = input as Request;
        seen.push(request.headers.get("authorization"));
        return new Response("{}", { status: 200 });
      },
    });
    await client.fetch(`${server.urls.http}/anything`);
    await client.fetch("https://elsewhere.example/api");
    expect(seen[0]).toMatch(/^Bearer /);
    expect(seen[1]).toBeNull();
  });

  it("refreshes once for many requests that meet an expired access token, and retries each", async () => {
    const { client } = await signedIn();
    const before = await server.refreshRequests();
    const first = await client.tokens();
    server.clock.advance(16 * 60 * 1000);
    const responses = await Promise.all(
      Array.from({ length: 25 }, () => client.fetch(`${server.urls.http}/auth/session`)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(25).fill(200));
    expect((await server.refreshRequests()) - before).toBe(1);
    expect((await client.tokens())?.refreshToken).not.toBe(first?.refreshToken);
  });

  it("signs out and says why when the session is revoked elsewhere", async () => {
    const { client } = await signedIn();
    const reasons = signOuts(client);
    const pair = (await client.tokens()) as TokenPair;
    await fetch(`${server.urls.http}/auth/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    const response = await client.fetch(`${server.urls.http}/auth/session`);
    expect(response.status).toBe(401);
    expect(reasons).toEqual(["token_revoked"]);
    expect(await client.tokens()).toBeNull();
  });

  it("signs out on refresh-token reuse", async () => {
    const { client } = await signedIn();
    const reasons = signOuts(client);
    const stolen = (await client.tokens()) as TokenPair;
    // The thief refreshes twice; the second spends the successor, so the first token is now theft.
    const thief = await (
      await fetch(`${server.urls.http}/auth/refresh`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refreshToken: stolen.refreshToken }),
      })
    ).json();
    await fetch(`${server.urls.http}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: (thief as TokenPair).refreshToken }),
    });
    await expect(client.refresh()).rejects.toMatchObject({ code: "refresh_token_reused" });
    expect(reasons).toEqual(["refresh_token_reused"]);
  });

  it("lets a sign-out win over a refresh still in flight", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const name = username();
    const client = createClient({
      baseUrl: server.urls.http,
      mode: "token",
      fetch: async (input) => {
        const response = await fetch(input as Request);
        if (new URL((input as Request).url).pathname === "/auth/refresh") await held;
        return response;
      },
    });
    await client.register({ username: name, password: "secret123" });
    await client.login({ username: name, password: "secret123" });
    const refreshing = client.refresh();
    await new Promise((resolve) => setImmediate(resolve));
    await client.logout();
    release();
    await expect(refreshing).rejects.toMatchObject({ code: "token_revoked" });
    expect(await client.tokens()).toBeNull();
  });

  it("issues a link and redeems it into a new session of its own", async () => {
    const { client } = await signedIn();
    const link = await client.createLink({ data: { step: 2 } });
    const other = createClient({ baseUrl: server.urls.http, mode: "token" });
    const redeemed = await other.redeemLink(link.url);
    expect(redeemed.session.data).toEqual({ step: 2 });
    expect((await other.session()).id).toBe(redeemed.sessionId);
    await expect(other.redeemLink(link.url)).rejects.toMatchObject({ code: "link_used", status: 410 });
  });

  it("revokes another session and ends every session with logoutAll", async () => {
    const { client, name } = await signedIn();
    const second = createClient({ baseUrl: server.urls.http, mode: "token" });
    await second.login({ username: name, password: "secret123" });
    const reasons = signOuts(second);
    await client.revokeSession((await second.tokens())?.sessionId ?? "");
    expect((await second.fetch(`${server.urls.http}/auth/session`)).status).toBe(401);
    expect(reasons).toEqual(["token_revoked"]);
    await client.logoutAll();
    expect(await client.tokens()).toBeNull();
    await expect(client.revokeSession("nope")).rejects.toMatchObject({ status: 401 });
  });

  it("pages through the user's own security events, newest first, filtered by kind", async () => {
    const { client, name } = await signedIn();
    for (let i = 0; i < 2; i += 1) {
      await createClient({ baseUrl: server.urls.http, mode: "token" })
        .login({ username: name, password: "nope" })
        .catch(() => undefined);
    }
    await client.logoutOthers();
    const first = await client.events({ kinds: ["login_succeeded", "login_failed"], limit: 2 });
    expect(first.events.map((event) => event.kind)).toEqual(["login_failed", "login_failed"]);
    expect(first.next).toBeDefined();
    const second = await client.events({
      kinds: ["login_succeeded", "login_failed"],
      limit: 2,
      before: first.next,
    });
    expect(second.events.map((event) => event.kind)).toEqual(["login_succeeded"]);
    expect(second.next).toBeUndefined();
    expect(second.events[0]?.sessionId).toBe((await client.tokens())?.sessionId);
    const all = await client.events();
    expect(all.events.length).toBeGreaterThan(3);
    const times = all.events.map((event) => event.at);
    expect(times).toEqual([...times].sort().reverse());
  });

  it("serves the JWKS and health", async () => {
    const client = createClient({ baseUrl: server.urls.http, mode: "token" });
    expect((await client.jwks()).keys.length).toBeGreaterThan(0);
    expect(await client.health()).toEqual({ status: "ok" });
  });
});
