/**
 * Fixtures for the Chromium tests: Debian's `/usr/bin/chromium` driven by playwright-core,
 * the SDK bundled for the browser with esbuild (an IIFE exposing `TesseraSDK`), and a tiny
 * static server on another port — another origin — that serves a blank app page and the
 * bundle, as a web app on its own origin would. Without Chromium the tests skip with a
 * message, except in CI (`CI` set), where they must run.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { type ClientTestServer, startClientServer } from "../client-kit.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** True when the browser tests must be skipped: no Chromium, and not in CI. */
export const skipBrowserTests = !existsSync(CHROMIUM_PATH) && process.env.CI === undefined;
if (skipBrowserTests) {
  console.warn(
    `browser tests skipped: ${CHROMIUM_PATH} is absent (apt-get install -y chromium; CI installs it)`,
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface BrowserSuite {
  readonly server: ClientTestServer;
  readonly browser: Browser;
  /** A fresh profile; `bypassCSP` only where a test injects its own script (the SDK, axe). */
  profile(options?: BrowserContextOptions): Promise<BrowserContext>;
}

/**
 * Inside a `describe`: a real server (`startClientServer`) and Chromium shared by its tests,
 * started before the first and stopped after the last.
 */
export function browserSuite(): BrowserSuite {
  let server: ClientTestServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    server = await startClientServer();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("browserSuite: used before its beforeAll ran");
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get browser() {
      return started(browser);
    },
    profile: (options = {}) => started(browser).newContext(options),
  };
}

let bundle: Promise<string> | null = null;

/** `src/client` as one browser script defining `window.TesseraSDK` (built once per file). */
export function sdkBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [new URL("../../src/client/index.ts", import.meta.url).pathname],
    bundle: true,
    format: "iife",
    globalName: "TesseraSDK",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  }).then((result) => result.outputFiles[0]?.text ?? "");
  return bundle;
}

/**
 * The test app's own script (`/app.js`, or injected into a page of the server): `window.app`
 * wraps one SDK client so that a test drives it with short `page.evaluate("app.…")` calls.
 */
export const APP_JS = `window.app = {
  signedOut: [],
  setup(baseUrl, mode) {
    const sdk = window.TesseraSDK;
    const storage = mode === "token" ? { storage: sdk.webStorage(localStorage) } : {};
    this.baseUrl = baseUrl;
    this.client = sdk.createClient({ baseUrl, mode, ...storage });
    this.client.on("signedOut", (event) => this.signedOut.push(event.reason));
    this.signedOutOnce = new Promise((resolve) => this.client.on("signedOut", (event) => resolve(event.reason)));
  },
  login(username, password, upgrade) {
    return this.client.login({ username, password }, { upgrade }).then((signedIn) => signedIn.sessionId);
  },
  fire(count, path) {
    const calls = Array.from({ length: count }, () => this.client.fetch(this.baseUrl + path).then((r) => r.status));
    return Promise.all(calls);
  },
  openSocket() {
    this.socket = this.client.socket({ WebSocket, backoffBaseMs: 50, backoffMaxMs: 400 });
    this.stopped = new Promise((resolve) =>
      this.socket.on("close", (event) => {
        if (event.retryInMs === null) resolve({ code: event.code, reason: event.reason });
      }),
    );
    return this.socket.opened().then(() => true);
  },
  nextReady() {
    return new Promise((resolve) => {
      const off = this.socket.on("ready", (frame) => {
        off();
        resolve(frame.sessionId);
      });
    });
  },
  echo(data) {
    return this.socket.call("echo", data);
  },
};
`;

export interface AppOrigin {
  /** `http://127.0.0.1:<port>`: the app page is `/`, the SDK `/sdk.js`. */
  readonly origin: string;
  close(): Promise<void>;
}

/** A static "web app" origin: a page that loads the SDK, nothing else. */
export async function startAppOrigin(): Promise<AppOrigin> {
  const sdk = await sdkBundle();
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>App</title>
<script src="/sdk.js"></script><script src="/app.js"></script></head><body><main><h1>App</h1></main></body></html>`;
  const server: Server = createServer((request, response) => {
    const script = request.url === "/sdk.js" ? sdk : request.url === "/app.js" ? APP_JS : null;
    response.writeHead(200, {
      "content-type": script === null ? "text/html; charset=utf-8" : "text/javascript",
    });
    response.end(script ?? page);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Registers a user over HTTP from Node; returns the credentials. */
export async function registerUser(
  baseUrl: string,
  username: string,
): Promise<{ username: string; password: string }> {
  const password = "secret123";
  const response = await fetch(`${baseUrl}/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 201) throw new Error(`register failed: ${response.status}`);
  return { username, password };
}

/**
 * Signs a browser context in through the sessions page: it is sent to the sign-in form,
 * which returns it to the sessions page. Returns the page, on /account/sessions.
 */
export async function signInThroughPage(
  context: BrowserContext,
  baseUrl: string,
  user: { username: string; password: string },
  deviceName: string,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${baseUrl}/account/sessions`);
  await page.waitForURL(/\/account\/sign-in\?return=/);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByLabel(/Name this device/).fill(deviceName);
  await Promise.all([
    page.waitForURL(`${baseUrl}/account/sessions`),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  return page;
}

const AXE_PATH = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/**
 * Runs axe on the page as it is, at a desktop and a phone width, and expects no serious or
 * critical finding. The page's context needs `bypassCSP` (axe is injected).
 */
export async function expectAccessible(page: Page): Promise<void> {
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: 800 });
    await page.addScriptTag({ path: AXE_PATH });
    const results = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as {
      violations: { id: string; impact: string | null; help: string }[];
    };
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious, `${page.url()} at ${width}px`).toEqual([]);
  }
}
