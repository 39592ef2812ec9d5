/**
 * Contract, "Socket protocol" → Closing: logout, logout-all, revocation, refresh-token reuse
 * and device takeover close that session's sockets with 4401 `token_revoked` at once —
 * from the library, from the HTTP surface, and from another process sharing the SQLite
 * file (the CLI), whose revocation arrives through the store's event feed (polled every
 * 50 ms). The tests wait for the close event itself: the heartbeat (30 s by default) is far
 * beyond the test timeout, so only the revocation can close the socket. How soon it closes
 * (the contract's 100 ms) is a timing claim and is measured in the bench
 * (`npm run bench -- sockets`), not asserted here, where a busy machine would fail it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Tessera } from "../src/engine/tessera.js";
import type { TokenPair } from "../src/engine/types.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { makeEngine } from "./kit.js";
import {
  expectedClose,
  type Gateways,
  readyClient,
  startGateways,
  type TestClient,
  type Transport,
} from "./socket-kit.js";

/** Runs `revoke` and returns how the socket then closed (waiting for the close event). */
async function closeAfter(client: TestClient, revoke: () => Promise<unknown>) {
  await revoke().catch(() => undefined);
  const closed = await client.closed;
  return { code: closed.code, reason: closed.reason };
}

describe.each<Transport>(["websocket", "tcp"])("revocation closes %s sockets", (transport) => {
  let gw: Gateways;
  afterEach(() => gw.close());

  async function twoSockets(): Promise<{ a: TestClient; b: TestClient; pair: TokenPair }> {
    const { client: a, pair } = await readyClient(gw, transport);
    const { client: b } = await readyClient(gw, transport, pair);
    return { a, b, pair };
  }

  const cases: [string, (tessera: Tessera, pair: TokenPair) => Promise<unknown>][] = [
    ["logout", (tessera, pair) => tessera.logout(pair.sessionId)],
    ["logoutAll", (tessera, pair) => tessera.logoutAll(pair.user.id)],
    ["revokeSession", (tessera, pair) => tessera.revokeSession(pair.sessionId, { ownerId: pair.user.id })],
  ];

  it.each(cases)("%s from the library closes every socket of the session at once", async (_name, revoke) => {
    gw = await startGateways();
    const { a, b, pair } = await twoSockets();
    const { client: other } = await readyClient(gw, transport);
    const closed = await closeAfter(a, () => revoke(gw.tessera, pair));
    expect(closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
    expect(await b.closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
    // Another user's socket is untouched.
    other.send({ type: "ping" });
    expect(await other.next()).toEqual({ type: "pong" });
  });

  it("refresh-token reuse closes the session's sockets at once", async () => {
    gw = await startGateways();
    const { client, pair } = await readyClient(gw, transport);
    await gw.tessera.refresh(pair.refreshToken);
    gw.clock.advance(60_000); // past the grace window
    const closed = await closeAfter(client, () => gw.tessera.refresh(pair.refreshToken));
    expect(closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
  });

  it("refresh-token reuse sent over the socket itself closes it", async () => {
    gw = await startGateways();
    const { client, pair } = await readyClient(gw, transport);
    await gw.tessera.refresh(pair.refreshToken);
    gw.clock.advance(60_000);
    client.send({ type: "refresh", refreshToken: pair.refreshToken });
    expect(await client.closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
  });

  it("a second login with the same deviceId (device takeover) closes the first session's sockets at once", async () => {
    gw = await startGateways();
    const user = await gw.tessera.register({ username: `device-${transport}`, password: "secret123" });
    const first = await gw.tessera.login({
      username: user.username,
      password: "secret123",
      deviceId: "phone",
    });
    const pair = await gw.tessera.upgrade(first.accessToken);
    const { client } = await readyClient(gw, transport, pair);
    const closed = await closeAfter(client, () =>
      gw.tessera.login({ username: user.username, password: "secret123", deviceId: "phone" }),
    );
    expect(closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
  });

  it("logout over the HTTP surface closes the session's sockets at once", async () => {
    gw = await startGateways();
    const app = buildHttpApp({ tessera: gw.tessera });
    await app.ready();
    try {
      const { client, pair } = await readyClient(gw, transport);
      const closed = await closeAfter(client, async () => {
        const response = await app.inject({
          method: "POST",
          url: "/auth/logout",
          headers: { authorization: `Bearer ${pair.accessToken}` },
        });
        expect(response.statusCode).toBe(204);
      });
      expect(closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
    } finally {
      await app.close();
    }
  });
});

describe("revocation from another process sharing the SQLite file", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it.each<Transport>([
    "websocket",
    "tcp",
  ])("a logout by a second engine on the same file (the CLI) closes a %s socket at once", async (transport) => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-socket-"));
    const path = join(dir, "tessera.db");
    const gw = await startGateways({ engine: { store: SqliteStore.open({ path }) } });
    const cliStore = SqliteStore.open({ path });
    const cli = await makeEngine({ store: cliStore });
    cleanup = async () => {
      await gw.close();
      cli.tessera.close();
      await cliStore.close();
      rmSync(dir, { recursive: true, force: true });
    };
    const { client, pair } = await readyClient(gw, transport);
    const closed = await closeAfter(client, () => cli.tessera.revokeSession(pair.sessionId));
    expect(closed).toMatchObject(expectedClose(transport, 4401, "token_revoked"));
  });
});
