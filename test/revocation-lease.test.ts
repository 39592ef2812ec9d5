/**
 * The revocation lease on one node (engine and sockets): a node answers from its caches only
 * while its store's feed confirms it has seen every revocation; otherwise it asks the store,
 * and when the store cannot answer it says `unavailable` — never a stale yes. Two engines
 * share one real store: node A makes the changes, node B sits behind injected faults.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { type FaultyStore, faulty } from "./faulty-store.js";
import { codeOf, loggedIn, makeEngine } from "./kit.js";
import { closeOf, type Gateways, nextOfType, readyClient, startGateways } from "./socket-kit.js";

interface Nodes {
  readonly a: Tessera;
  readonly b: Tessera;
  readonly link: FaultyStore;
}

const open: Tessera[] = [];
let gateways: Gateways | null = null;

afterEach(async () => {
  for (const tessera of open.splice(0)) tessera.close();
  await gateways?.close();
  gateways = null;
});

async function twoNodes(): Promise<Nodes> {
  const store = new MemoryStore();
  const link = faulty(store);
  const a = (await makeEngine({ store })).tessera;
  const b = (await makeEngine({ store: link.store })).tessera;
  open.push(a, b);
  return { a, b, link };
}

async function sessionToken(tessera: Tessera) {
  const { pair } = await loggedIn(tessera);
  return tessera.upgrade(pair.accessToken);
}

describe("the revocation lease", () => {
  it("a store read that started before a revocation does not fill the cache after it", async () => {
    const { a, b, link } = await twoNodes();
    const pair = await sessionToken(a);
    const held = link.holdAfterRead("findSessionByTokenHash");
    const pending = b.validate(pair.accessToken);
    const release = await held;
    await a.logout(pair.sessionId);
    release();
    // The read began before the logout, so this one answer may still be the old state…
    await pending;
    // …but it must not have been cached: the next validation sees the revocation.
    expect(await codeOf(b.validate(pair.accessToken))).toBe("token_revoked");
  });

  it("without the lease, validation reads through and refuses a revocation the node never heard of", async () => {
    const { a, b, link } = await twoNodes();
    const pair = await sessionToken(a);
    await b.validate(pair.accessToken);
    link.cutFeed();
    expect(b.revocationsCurrent).toBe(false);
    await a.logout(pair.sessionId);
    expect(await codeOf(b.validate(pair.accessToken))).toBe("token_revoked");
  });

  it("with the feed intact the same revocation reaches the node's cache through its event", async () => {
    const { a, b } = await twoNodes();
    const pair = await sessionToken(a);
    await b.validate(pair.accessToken);
    await a.logout(pair.sessionId);
    expect(await codeOf(b.validate(pair.accessToken))).toBe("token_revoked");
  });

  it("without the lease and without the store, a cached session answers unavailable, then recovers", async () => {
    const { a, b, link } = await twoNodes();
    const pair = await sessionToken(a);
    await b.validate(pair.accessToken);
    link.cutFeed();
    link.down();
    expect(await codeOf(b.validate(pair.accessToken))).toBe("unavailable");
    link.up();
    link.restoreFeed();
    expect((await b.validate(pair.accessToken)).session.id).toBe(pair.sessionId);
  });

  it("without the lease, an access JWT whose session was upgraded elsewhere is refused", async () => {
    const { a, b, link } = await twoNodes();
    const { pair } = await loggedIn(a);
    await b.validate(pair.accessToken);
    link.cutFeed();
    await a.upgrade(pair.accessToken);
    expect(await codeOf(b.validate(pair.accessToken))).toBe("token_revoked");
  });
});

describe("open sockets while the lease is lost", () => {
  async function socketNode() {
    const store = new MemoryStore();
    const link = faulty(store);
    const a = (await makeEngine({ store })).tessera;
    open.push(a);
    gateways = await startGateways({ engine: { store: link.store } });
    gateways.gates.register("echo", ({ data }) => data);
    const pair = await sessionToken(a);
    const { client } = await readyClient(gateways, "websocket", pair);
    return { a, link, pair, client };
  }

  it("a message is answered unavailable when the session cannot be confirmed, and the socket stays", async () => {
    const { link, client } = await socketNode();
    link.cutFeed();
    link.down();
    client.send({ type: "message", gate: "echo", id: "m1", data: 1 });
    expect(await nextOfType(client, "error")).toMatchObject({ code: "unavailable", id: "m1" });
    link.up();
    client.send({ type: "message", gate: "echo", id: "m2", data: 2 });
    expect(await nextOfType(client, "reply")).toMatchObject({ id: "m2", data: 2 });
  });

  it("a message after a revocation the node never heard of closes the socket with token_revoked", async () => {
    const { a, link, pair, client } = await socketNode();
    link.cutFeed();
    await a.logout(pair.sessionId);
    client.send({ type: "message", gate: "echo", id: "m1", data: 1 });
    expect(await closeOf(client)).toEqual({ code: 4401, reason: "token_revoked" });
  });
});
