/**
 * The multi-node suite, run on every shared store: three `tessera serve` processes, each
 * reaching the store through its own TCP proxy (the network in between), real HTTP and
 * WebSocket clients. What it holds to: a session made on one node works on all; every kind
 * of revocation made on one node is refused by the others and closes their sockets; under
 * faults no revoked token is ever accepted, no acknowledged write is lost, nodes recover
 * without a restart, and nothing crashes. It waits for events (a refusal, a close), never
 * for time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Frame, openWebSocket, type TestClient } from "../socket-kit.js";
import { startNode, startProxy, type TcpProxy, type TesseraNode } from "./processes.js";

export interface SharedStore {
  /** The port a proxy should forward to; null when nodes reach the store without a network (SQLite). */
  readonly port: number | null;
  /** `tessera serve` arguments that point a node at the store behind `proxyPort`. */
  nodeArgs(proxyPort: number): string[];
  /** Kills the store server and starts it again (`empty`: with its data gone); absent when it cannot be. */
  readonly restart?: (options: { empty: boolean }) => Promise<void>;
  /** Stops the store server dead (until `restart`); absent when it cannot be. */
  readonly kill?: () => Promise<void>;
  close(): Promise<void>;
}

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

interface Pair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly sessionId: string;
  readonly tokenType: string;
}

export async function call(
  node: TesseraNode,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${node.http}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function codeOf(answer: Answer): string | number {
  const error = answer.body.error as { code?: string } | undefined;
  return error?.code ?? answer.status;
}

/** Polls until `check` holds: the event is the refusal itself, which arrives asynchronously. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function describeMultiNode(name: string, openStore: () => Promise<SharedStore>): void {
  describe(`three nodes on ${name}`, () => {
    let store: SharedStore;
    const proxies: TcpProxy[] = [];
    const nodes: TesseraNode[] = [];
    let a: TesseraNode;
    let b: TesseraNode;
    let c: TesseraNode;
    let userCount = 0;

    beforeAll(async () => {
      store = await openStore();
      const storePort = store.port;
      if (storePort !== null) for (let i = 0; i < 3; i++) proxies.push(await startProxy(storePort));
      // One at a time: the first node migrates the store and creates the signing keys.
      for (let i = 0; i < 3; i++) nodes.push(await startNode(store.nodeArgs(proxies[i]?.port ?? 0)));
      [a, b, c] = nodes as [TesseraNode, TesseraNode, TesseraNode];
    }, 120_000);

    afterAll(async () => {
      for (const node of nodes) await node.stop();
      for (const proxy of proxies) await proxy.close();
      await store?.close();
    });

    async function newUser(): Promise<string> {
      const username = `node-user-${process.pid}-${++userCount}`;
      const answer = await call(a, "POST", "/auth/register", { body: { username, password: "secret123" } });
      expect(answer.status).toBe(201);
      return username;
    }

    async function login(node: TesseraNode, username: string, deviceId?: string): Promise<Pair> {
      const body = { username, password: "secret123", ...(deviceId === undefined ? {} : { deviceId }) };
      const answer = await call(node, "POST", "/auth/login", { body });
      expect(answer.status).toBe(200);
      return answer.body as unknown as Pair;
    }

    async function upgraded(node: TesseraNode, username: string, deviceId?: string): Promise<Pair> {
      const pair = await login(node, username, deviceId);
      const answer = await call(node, "POST", "/auth/upgrade", { token: pair.accessToken });
      expect(answer.status).toBe(200);
      return answer.body as unknown as Pair;
    }

    async function socketOn(node: TesseraNode, token: string): Promise<TestClient> {
      const client = await openWebSocket(node.ws, { authorization: `Bearer ${token}` });
      const ready: Frame = await client.next();
      expect(ready.type).toBe("ready");
      return client;
    }

    async function refusedOn(node: TesseraNode, token: string): Promise<string | number> {
      let code: string | number = 200;
      await eventually(async () => {
        code = codeOf(await call(node, "GET", "/auth/session", { token }));
        return code !== 200;
      });
      return code;
    }

    it("a session made on one node works on the others", async () => {
      const username = await newUser();
      const jwt = await login(a, username);
      expect((await call(b, "GET", "/auth/session", { token: jwt.accessToken })).status).toBe(200);
      const upgrade = await call(b, "POST", "/auth/upgrade", { token: jwt.accessToken });
      expect(upgrade.status).toBe(200);
      const pair = upgrade.body as unknown as Pair;
      expect((await call(c, "GET", "/auth/session", { token: pair.accessToken })).status).toBe(200);
      const refreshed = await call(c, "POST", "/auth/refresh", { body: { refreshToken: pair.refreshToken } });
      expect(refreshed.status).toBe(200);
      const next = refreshed.body as unknown as Pair;
      expect((await call(a, "GET", "/auth/session", { token: next.accessToken })).status).toBe(200);
    });

    /** Each kind: make a live session, hold it on B (cached) and C (a socket), end it on A. */
    /** Each returns the token to check afterwards when it is not the session's first one. */
    const kinds: Record<string, (username: string, pair: Pair) => Promise<unknown>> = {
      logout: async (_username, pair) => {
        expect((await call(a, "POST", "/auth/logout", { token: pair.accessToken })).status).toBe(204);
      },
      "logout-all": async (_username, pair) => {
        expect((await call(a, "POST", "/auth/logout-all", { token: pair.accessToken })).status).toBe(204);
      },
      "session delete": async (username, pair) => {
        const other = await upgraded(a, username);
        const deleted = await call(a, "DELETE", `/auth/sessions/${pair.sessionId}`, {
          token: other.accessToken,
        });
        expect(deleted.status).toBe(204);
      },
      "refresh-token reuse": async (_username, pair) => {
        const first = await call(a, "POST", "/auth/refresh", { body: { refreshToken: pair.refreshToken } });
        const successor = first.body as unknown as Pair;
        const latest = await call(a, "POST", "/auth/refresh", {
          body: { refreshToken: successor.refreshToken },
        });
        const reuse = await call(a, "POST", "/auth/refresh", { body: { refreshToken: pair.refreshToken } });
        expect(codeOf(reuse)).toBe("refresh_token_reused");
        // The first session token was superseded by the refreshes; the newest one is what was live.
        return (latest.body as unknown as Pair).accessToken;
      },
      "device takeover": async (username) => {
        await login(a, username, "phone-1");
      },
    };

    for (const [kind, revoke] of Object.entries(kinds)) {
      it(`${kind} on one node is refused by the others and closes their sockets`, async () => {
        const username = await newUser();
        const pair = await upgraded(a, username, kind === "device takeover" ? "phone-1" : undefined);
        expect((await call(b, "GET", "/auth/session", { token: pair.accessToken })).status).toBe(200);
        const socket = await socketOn(c, pair.accessToken);
        const returned = await revoke(username, pair);
        const token = typeof returned === "string" ? returned : pair.accessToken;
        expect(await refusedOn(b, token)).toBe("token_revoked");
        expect(await refusedOn(c, token)).toBe("token_revoked");
        const closed = await socket.closed;
        expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 4401, reason: "token_revoked" });
      });
    }

    it("an access JWT upgraded on one node is refused by the others", async () => {
      const jwt = await login(a, await newUser());
      expect((await call(b, "GET", "/auth/session", { token: jwt.accessToken })).status).toBe(200);
      expect((await call(a, "POST", "/auth/upgrade", { token: jwt.accessToken })).status).toBe(200);
      expect(await refusedOn(b, jwt.accessToken)).toBe("token_revoked");
      expect(await refusedOn(c, jwt.accessToken)).toBe("token_revoked");
    });

    it("a session token superseded by a refresh on one node is refused by the others", async () => {
      const pair = await upgraded(a, await newUser());
      expect((await call(b, "GET", "/auth/session", { token: pair.accessToken })).status).toBe(200);
      const refreshed = await call(a, "POST", "/auth/refresh", { body: { refreshToken: pair.refreshToken } });
      expect(refreshed.status).toBe(200);
      expect(await refusedOn(b, pair.accessToken)).not.toBe(200);
      const next = refreshed.body as unknown as Pair;
      expect((await call(b, "GET", "/auth/session", { token: next.accessToken })).status).toBe(200);
    });

    it("session data changed on one node is what the others answer", async () => {
      const pair = await upgraded(a, await newUser());
      expect((await call(b, "GET", "/auth/session", { token: pair.accessToken })).status).toBe(200);
      const put = await call(a, "PUT", "/auth/session/data", {
        token: pair.accessToken,
        body: { cart: [1, 2] },
      });
      expect(put.status).toBe(200);
      await eventually(async () => {
        const answer = await call(b, "GET", "/auth/session", { token: pair.accessToken });
        const session = answer.body.session as { data?: unknown } | undefined;
        return JSON.stringify(session?.data) === JSON.stringify({ cart: [1, 2] });
      });
    });

    it("a node cut off from the store never accepts a revoked token, and recovers on its own", async (context) => {
      if (proxies.length === 0) context.skip();
      const pair = await upgraded(a, await newUser());
      expect((await call(b, "GET", "/auth/session", { token: pair.accessToken })).status).toBe(200);
      (proxies[1] as TcpProxy).setMode("blackhole");
      expect((await call(a, "POST", "/auth/logout", { token: pair.accessToken })).status).toBe(204);
      // Cut off, B cannot hear of the logout; once its lease runs out it must stop saying yes.
      const seen = new Set<string | number>();
      await eventually(async () => {
        const code = codeOf(await call(b, "GET", "/auth/session", { token: pair.accessToken }));
        seen.add(code);
        return code === "unavailable";
      });
      (proxies[1] as TcpProxy).setMode("pass");
      // Reconnected, B answers unavailable until it has caught up, then token_revoked; never yes.
      const afterReturn = new Set<string | number>();
      await eventually(async () => {
        const code = codeOf(await call(b, "GET", "/auth/session", { token: pair.accessToken }));
        afterReturn.add(code);
        return code === "token_revoked";
      });
      expect([...afterReturn].every((code) => code === "unavailable" || code === "token_revoked")).toBe(true);
      const fresh = await upgraded(a, await newUser());
      await eventually(
        async () => (await call(b, "GET", "/auth/session", { token: fresh.accessToken })).status === 200,
      );
      // 200 may appear only before A's logout could have reached B's lease bound; never after unavailable.
      expect([...seen].every((code) => code === 200 || code === "unavailable")).toBe(true);
    });

    it("losing every store connection answers unavailable, never a revoked yes, and recovers", async (context) => {
      if (proxies.length === 0) context.skip();
      const live = await upgraded(a, await newUser());
      const revoked = await upgraded(a, await newUser());
      expect((await call(a, "POST", "/auth/logout", { token: revoked.accessToken })).status).toBe(204);
      for (const node of [a, b, c]) expect(await refusedOn(node, revoked.accessToken)).toBe("token_revoked");
      for (const proxy of proxies) proxy.setMode("drop");
      const liveAnswers: (string | number)[] = [];
      const revokedAnswers: (string | number)[] = [];
      for (const node of [a, b, c]) {
        await eventually(async () => {
          const code = codeOf(await call(node, "GET", "/auth/session", { token: live.accessToken }));
          liveAnswers.push(code);
          revokedAnswers.push(
            codeOf(await call(node, "GET", "/auth/session", { token: revoked.accessToken })),
          );
          return code === "unavailable";
        });
      }
      for (const proxy of proxies) proxy.setMode("pass");
      for (const node of [a, b, c]) {
        await eventually(
          async () => (await call(node, "GET", "/auth/session", { token: live.accessToken })).status === 200,
        );
        expect(codeOf(await call(node, "GET", "/auth/session", { token: revoked.accessToken }))).toBe(
          "token_revoked",
        );
      }
      expect(liveAnswers.filter((code) => code !== 200 && code !== "unavailable")).toEqual([]);
      expect(revokedAnswers.filter((code) => code !== "token_revoked" && code !== "unavailable")).toEqual([]);
      for (const node of nodes) expect(node.exited()).toBe(false);
    });

    it("the store killed and restarted under load loses no acknowledged write and accepts no revoked token", async (context) => {
      if (store.kill === undefined || store.restart === undefined) context.skip();
      const live = await upgraded(a, await newUser());
      const revoked = await upgraded(a, await newUser());
      expect((await call(a, "POST", "/auth/logout", { token: revoked.accessToken })).status).toBe(204);
      for (const node of [a, b, c]) expect(await refusedOn(node, revoked.accessToken)).toBe("token_revoked");
      const revokedAnswers: (string | number)[] = [];
      let loading = true;
      const load = (async () => {
        while (loading) {
          for (const node of [a, b, c]) {
            revokedAnswers.push(
              codeOf(await call(node, "GET", "/auth/session", { token: revoked.accessToken })),
            );
          }
        }
      })();
      await store.kill?.();
      await eventually(
        async () =>
          codeOf(await call(b, "GET", "/auth/session", { token: live.accessToken })) === "unavailable",
      );
      await store.restart?.({ empty: false });
      for (const node of [a, b, c]) {
        await eventually(
          async () => (await call(node, "GET", "/auth/session", { token: live.accessToken })).status === 200,
        );
      }
      loading = false;
      await load;
      expect(revokedAnswers.length).toBeGreaterThan(0);
      expect(revokedAnswers.filter((code) => code !== "token_revoked" && code !== "unavailable")).toEqual([]);
      for (const node of nodes) expect(node.exited()).toBe(false);
    });

    it("a store that comes back empty is noticed: no node answers from what it cached before", async (context) => {
      if (store.restart === undefined) context.skip();
      const pair = await upgraded(a, await newUser());
      for (const node of [a, b, c]) {
        expect((await call(node, "GET", "/auth/session", { token: pair.accessToken })).status).toBe(200);
      }
      await store.restart?.({ empty: true });
      for (const node of [a, b, c]) {
        const code = await refusedOn(node, pair.accessToken);
        expect(["token_invalid", "unavailable"]).toContain(code);
        await eventually(
          async () =>
            codeOf(await call(node, "GET", "/auth/session", { token: pair.accessToken })) === "token_invalid",
        );
      }
      for (const node of nodes) expect(node.exited()).toBe(false);
    });
  });
}
