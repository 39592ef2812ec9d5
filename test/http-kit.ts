/**
 * HTTP test fixtures: the HTTP app over a test engine (fake clock, cheap argon2), driven
 * with `inject`, plus a helper that registers and logs in through the routes themselves.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { TesseraOptions } from "../src/engine/options.js";
import type { Tessera } from "../src/engine/tessera.js";
import type { TokenPair } from "../src/engine/types.js";
import { buildHttpApp, type HttpAppOptions } from "../src/surfaces/http/app.js";
import { makeEngine, type TestClock } from "./kit.js";

export interface TestApp {
  readonly app: FastifyInstance;
  readonly tessera: Tessera;
  readonly clock: TestClock;
  close(): Promise<void>;
}

export async function makeApp(
  engine: Partial<TesseraOptions> = {},
  http: Omit<HttpAppOptions, "tessera"> = {},
): Promise<TestApp> {
  const { tessera, store, clock } = await makeEngine(engine);
  const app = buildHttpApp({ tessera, ...http });
  await app.ready();
  return {
    app,
    tessera,
    clock,
    async close() {
      await app.close();
      tessera.close();
      await store.close();
    },
  };
}

export function body<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return JSON.parse(response.body) as T;
}

/** The `error.code` of an error response. */
export function errorCode(response: LightMyRequestResponse): string {
  return body<{ error: { code: string } }>(response).error.code;
}

let counter = 0;

/** Registers a fresh user over HTTP and logs in; returns the JWT pair. */
export async function httpLogin(
  app: FastifyInstance,
  options: { deviceId?: string } = {},
): Promise<{ username: string; password: string; pair: TokenPair }> {
  const username = `hero${++counter}-${Math.random().toString(36).slice(2, 7)}`;
  const password = "secret123";
  const registered = await app.inject({
    method: "POST",
    url: "/auth/register",
    payload: { username, password },
  });
  if (registered.statusCode !== 201) throw new Error(`register failed: ${registered.body}`);
  const login = await app.inject({
    method: "POST",
    url: "/auth/login",
    payload: { username, password, ...(options.deviceId ? { deviceId: options.deviceId } : {}) },
  });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`);
  return { username, password, pair: body<TokenPair>(login) };
}

/** Logs in and upgrades; returns the session-token pair. */
export async function httpSession(app: FastifyInstance): Promise<{ username: string; pair: TokenPair }> {
  const { username, pair } = await httpLogin(app);
  const upgraded = await app.inject({
    method: "POST",
    url: "/auth/upgrade",
    headers: { authorization: `Bearer ${pair.accessToken}` },
  });
  if (upgraded.statusCode !== 200) throw new Error(`upgrade failed: ${upgraded.body}`);
  return { username, pair: body<TokenPair>(upgraded) };
}
