/**
 * One suite for the three framework guards (Express, Fastify, Hono): each test app listens
 * on a real port with `GET /me` and `POST /action` behind its guard, and `GET /fresh` behind
 * a guard demanding a proof of identity at most `FRESH_MAX_AGE` seconds old, answering
 * `{ userId, sessionId, via }` from what the guard put on the request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tessera } from "../src/engine/tessera.js";
import { loggedIn, makeEngine, type TestClock } from "./kit.js";

/** The `maxAge` of each test app's `GET /fresh` guard. */
export const FRESH_MAX_AGE = 300;

export interface GuardApp {
  readonly url: string;
  close(): Promise<void>;
}

export function guardSuite(name: string, start: (tessera: Tessera) => Promise<GuardApp>): void {
  describe(`${name} guard`, () => {
    let tessera: Tessera;
    let clock: TestClock;
    let closeStore: () => Promise<void>;
    let app: GuardApp;
    beforeAll(async () => {
      const engine = await makeEngine();
      tessera = engine.tessera;
      clock = engine.clock;
      closeStore = () => engine.store.close();
      app = await start(tessera);
    });
    afterAll(async () => {
      await app.close();
      tessera.close();
      await closeStore();
    });

    const call = (path: string, init: RequestInit = {}) => fetch(`${app.url}${path}`, init);

    it("puts the session and user of a Bearer session token on the request", async () => {
      const { user, pair } = await loggedIn(tessera);
      const upgraded = await tessera.upgrade(pair.accessToken);
      const response = await call("/me", { headers: { authorization: `Bearer ${upgraded.accessToken}` } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ userId: user.id, sessionId: pair.sessionId, via: "bearer" });
    });

    it("accepts an access JWT as a Bearer token", async () => {
      const { user, pair } = await loggedIn(tessera);
      const response = await call("/me", { headers: { authorization: `Bearer ${pair.accessToken}` } });
      expect(await response.json()).toEqual({ userId: user.id, sessionId: pair.sessionId, via: "bearer" });
    });

    it("accepts the tessera_session cookie", async () => {
      const { pair } = await loggedIn(tessera);
      const upgraded = await tessera.upgrade(pair.accessToken);
      const response = await call("/me", { headers: { cookie: `tessera_session=${upgraded.accessToken}` } });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { via: string }).via).toBe("cookie");
    });

    it("answers 401 token_invalid with the contract body when there is no credential", async () => {
      const response = await call("/me");
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("token_invalid");
      expect(typeof body.error.message).toBe("string");
    });

    it("answers 401 token_revoked after logout", async () => {
      const { pair } = await loggedIn(tessera);
      await tessera.logout(pair.sessionId);
      const response = await call("/me", { headers: { authorization: `Bearer ${pair.accessToken}` } });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("token_revoked");
    });

    it("refuses a cookie-authenticated POST from another site with 403, and accepts it with the header", async () => {
      const { pair } = await loggedIn(tessera);
      const upgraded = await tessera.upgrade(pair.accessToken);
      const cookie = `tessera_session=${upgraded.accessToken}`;
      const origin = "https://elsewhere.example";
      const refused = await call("/action", { method: "POST", headers: { cookie, origin } });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("forbidden");
      const allowed = await call("/action", {
        method: "POST",
        headers: { cookie, origin, "x-tessera-csrf": "1" },
      });
      expect(allowed.status).toBe(200);
      const sameOrigin = await call("/action", { method: "POST", headers: { cookie, origin: app.url } });
      expect(sameOrigin.status).toBe(200);
      // No browser signal at all: not a page's cross-site request.
      const plain = await call("/action", { method: "POST", headers: { cookie } });
      expect(plain.status).toBe(200);
    });

    it("with maxAge, answers 403 reauthentication_required once the last proof is older; re-authenticating lets it through", async () => {
      const { user, pair } = await loggedIn(tessera);
      const headers = { authorization: `Bearer ${pair.accessToken}` };
      expect((await call("/fresh", { headers })).status).toBe(200);
      clock.advance((FRESH_MAX_AGE + 60) * 1000);
      const stale = await call("/fresh", { headers });
      expect(stale.status).toBe(403);
      expect(await stale.json()).toEqual({
        error: { code: "reauthentication_required", message: expect.any(String) },
      });
      // Still signed in where no freshness is asked.
      expect((await call("/me", { headers })).status).toBe(200);
      await tessera.reauthenticate({ sessionId: pair.sessionId, password: "secret123" });
      const fresh = await call("/fresh", { headers });
      expect(await fresh.json()).toEqual({ userId: user.id, sessionId: pair.sessionId, via: "bearer" });
    });

    it("lets a Bearer POST through without CSRF proof", async () => {
      const { pair } = await loggedIn(tessera);
      const response = await call("/action", {
        method: "POST",
        headers: { authorization: `Bearer ${pair.accessToken}` },
      });
      expect(response.status).toBe(200);
    });
  });
}
