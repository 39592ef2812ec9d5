/**
 * The HTTP surface at its edges, over a real port with real clients (Node's `fetch` and raw
 * `net` sockets): parser-level failures in the contract's shape, oversized bodies whose 413
 * the client can read, empty bodies with odd content types, caching headers on every token
 * response, link URLs that ignore a forged `Host`, and slow clients cut by the timeouts.
 */
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { TokenPair } from "../src/engine/types.js";
import { buildHttpApp, type HttpAppOptions } from "../src/surfaces/http/app.js";
import { generateOpaqueToken } from "../src/tokens/opaque.js";
import { makeEngine } from "./kit.js";

interface Served {
  readonly base: string;
  readonly port: number;
  close(): Promise<void>;
}

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function serve(http: Omit<HttpAppOptions, "tessera"> = {}): Promise<Served> {
  const { tessera, store } = await makeEngine();
  const app = buildHttpApp({ tessera, ...http });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  served = {
    base: `http://127.0.0.1:${port}`,
    port,
    async close() {
      await app.close();
      tessera.close();
      await store.close();
    },
  };
  return served;
}

const json = { "content-type": "application/json" };

async function login(base: string): Promise<TokenPair> {
  const username = `hero-${Math.random().toString(36).slice(2, 8)}`;
  const credentials = JSON.stringify({ username, password: "secret123" });
  const registered = await fetch(`${base}/auth/register`, {
    method: "POST",
    headers: json,
    body: credentials,
  });
  expect(registered.status).toBe(201);
  const response = await fetch(`${base}/auth/login`, { method: "POST", headers: json, body: credentials });
  expect(response.status).toBe(200);
  return (await response.json()) as TokenPair;
}

async function upgrade(base: string, pair: TokenPair): Promise<Response> {
  return fetch(`${base}/auth/upgrade`, {
    method: "POST",
    headers: { authorization: `Bearer ${pair.accessToken}` },
  });
}

/** Writes raw bytes on a fresh connection and resolves with everything read once the server closes it. */
function rawExchange(port: number, write: (socket: Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "ECONNRESET" && error.code !== "EPIPE") reject(error);
    });
    socket.on("close", () => resolve(received));
    socket.on("connect", () => write(socket));
  });
}

function bodyOf(raw: string): unknown {
  return JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
}

describe("every error, parser-level ones included, is the contract's body and never repeats the input", () => {
  it("over-long path parameters answer 414 with {error: {code, message}} and no trace of the path", async () => {
    const { base } = await serve();
    const long = "Z".repeat(300);
    for (const [method, path] of [
      ["GET", `/auth/links/${long}`],
      ["POST", `/auth/login/${long}`],
      ["DELETE", `/auth/sessions/${long}`],
    ] as const) {
      const response = await fetch(base + path, { method });
      const text = await response.text();
      expect(response.status).toBe(414);
      expect(Object.keys(JSON.parse(text))).toEqual(["error"]);
      expect(JSON.parse(text).error.code).toBe("invalid_request");
      expect(text).not.toContain("ZZZZ");
      expect(response.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("a malformed URL is 400 invalid_request without the URL", async () => {
    const { base } = await serve();
    const response = await fetch(`${base}/%zzSECRET`);
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(JSON.parse(text).error.code).toBe("invalid_request");
    expect(text).not.toContain("SECRET");
  });

  it("headers too large for Node's parser are 431 in the contract's shape, without the header", async () => {
    const { port } = await serve();
    const raw = await rawExchange(port, (socket) =>
      socket.write(`GET /auth/session HTTP/1.1\r\nHost: x\r\nX-Big: ${"Q".repeat(20_000)}\r\n\r\n`),
    );
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(raw)).toEqual({ error: { code: "invalid_request", message: expect.any(String) } });
    expect(raw).not.toContain("QQQQ");
  });

  it("a request line Node cannot parse is 400 in the contract's shape", async () => {
    const { port } = await serve();
    const raw = await rawExchange(port, (socket) => socket.write("NOT HTTP AT ALL\r\n\r\n"));
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(raw)).toEqual({ error: { code: "invalid_request", message: expect.any(String) } });
  });
});

describe("an oversized body", () => {
  it("answers a 2 MiB PUT from Node's fetch with a 413 the client can read", async () => {
    const { base } = await serve();
    const pair = await login(base);
    const session = (await (await upgrade(base, pair)).json()) as TokenPair;
    const response = await fetch(`${base}/auth/session/data`, {
      method: "PUT",
      headers: { ...json, authorization: `Bearer ${session.accessToken}` },
      body: JSON.stringify({ blob: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });

  it("reads the whole body before answering, so a client still writing gets the 413 and no reset", async () => {
    const { port } = await serve();
    const chunk = Buffer.alloc(64 * 1024, "x");
    const chunks = 32; // 2 MiB
    const socket = connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let written = 0;
    let answeredAfter: number | undefined;
    let received = "";
    const failures: string[] = [];
    socket.on("error", (error: NodeJS.ErrnoException) => failures.push(error.code ?? error.message));
    socket.on("data", (data: Buffer) => {
      answeredAfter ??= written;
      received += data.toString("utf8");
    });
    const closed = new Promise((resolve) => socket.once("close", resolve));
    const write = (data: string | Buffer) =>
      new Promise<void>((resolve) => socket.write(data, () => resolve()));
    await write(
      `PUT /auth/session/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${chunk.length * chunks}\r\n\r\n`,
    );
    for (let i = 0; i < chunks && !socket.destroyed; i++) {
      await write(chunk);
      written++;
      // Lets the server's answer, if it comes early, arrive between two chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await closed;
    expect(failures).toEqual([]);
    expect(answeredAfter).toBe(chunks);
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(bodyOf(received)).toMatchObject({ error: { code: "payload_too_large" } });
  });
});

describe("a request with no body", () => {
  it("is not a form post: an empty POST /auth/upgrade with a form content type upgrades", async () => {
    const { base } = await serve();
    const pair = await login(base);
    const response = await fetch(`${base}/auth/upgrade`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${pair.accessToken}`,
        "content-type": "application/x-www-form-urlencoded",
        "content-length": "0",
      },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as TokenPair).tokenType).toBe("session");
  });

  it("a non-JSON body is still refused, with or without a content type", async () => {
    const { base } = await serve();
    const pair = await login(base);
    for (const headers of [
      { "content-type": "application/x-www-form-urlencoded" },
      { "content-type": "text/plain" },
    ]) {
      const response = await fetch(`${base}/auth/upgrade`, {
        method: "POST",
        headers: { ...headers, authorization: `Bearer ${pair.accessToken}` },
        body: "token=x",
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    }
  });
});

describe("caching", () => {
  it("every response carrying a token or session data is Cache-Control: no-store and Pragma: no-cache", async () => {
    const { base } = await serve();
    const pair = await login(base);
    const responses: [string, Response][] = [];
    const credentials = JSON.stringify({ username: pair.user.username, password: "secret123" });
    responses.push([
      "login",
      await fetch(`${base}/auth/login`, { method: "POST", headers: json, body: credentials }),
    ]);
    const upgraded = await upgrade(base, pair);
    responses.push(["upgrade", upgraded]);
    const session = (await upgraded.clone().json()) as TokenPair;
    const bearer = { authorization: `Bearer ${session.accessToken}` };
    const refreshed = await fetch(`${base}/auth/refresh`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    responses.push(["refresh", refreshed]);
    const current = (await refreshed.clone().json()) as TokenPair;
    const auth = { authorization: `Bearer ${current.accessToken}` };
    responses.push(["session", await fetch(`${base}/auth/session`, { headers: auth })]);
    responses.push(["sessions", await fetch(`${base}/auth/sessions`, { headers: auth })]);
    responses.push([
      "data",
      await fetch(`${base}/auth/session/data`, { method: "PUT", headers: { ...json, ...auth }, body: "{}" }),
    ]);
    const link = await fetch(`${base}/auth/links`, {
      method: "POST",
      headers: { ...json, ...auth },
      body: "{}",
    });
    const { url } = (await link.json()) as { url: string };
    responses.push(["link redemption", await fetch(url, { headers: { accept: "application/json" } })]);
    responses.push(["an error", await fetch(`${base}/auth/session`, { headers: bearer })]);
    for (const [what, response] of responses) {
      expect(response.status, what).toBeLessThan(500);
      expect(response.headers.get("cache-control"), what).toBe("no-store");
      expect(response.headers.get("pragma"), what).toBe("no-cache");
    }
    // A route that chooses its own caching keeps it.
    const jwks = await fetch(`${base}/.well-known/jwks.json`);
    expect(jwks.headers.get("cache-control")).toBe("public, max-age=60");
  });
});

describe("link URLs", () => {
  async function linkUrl(base: string, host?: string, extra: Record<string, string> = {}): Promise<string> {
    const pair = await login(base);
    const session = (await (await upgrade(base, pair)).json()) as TokenPair;
    // fetch will not forge Host; a raw request does, as an attacker's client would.
    const body = "{}";
    const raw = await rawExchange(Number(new URL(base).port), (socket) =>
      socket.write(
        [
          "POST /auth/links HTTP/1.1",
          `Host: ${host ?? new URL(base).host}`,
          `Authorization: Bearer ${session.accessToken}`,
          "Content-Type: application/json",
          `Content-Length: ${body.length}`,
          "Connection: close",
          ...Object.entries(extra).map(([name, value]) => `${name}: ${value}`),
          "",
          body,
        ].join("\r\n"),
      ),
    );
    expect(raw).toMatch(/^HTTP\/1\.1 201 /);
    return (bodyOf(raw) as { url: string }).url;
  }

  it("come from --public-url, whatever Host the request names", async () => {
    const { base } = await serve({ publicUrl: "https://auth.example.com" });
    expect(await linkUrl(base, "evil.example")).toMatch(/^https:\/\/auth\.example\.com\/auth\/links\/tsl_/);
  });

  it("without a public URL, come from the address the connection was accepted on, never from Host", async () => {
    const { base, port } = await serve();
    expect(await linkUrl(base, "evil.example")).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${port}/auth/links/tsl_`),
    );
  });

  it("come from a proxy's X-Forwarded-Host only when that proxy is trusted", async () => {
    const trusted = await serve({ trustProxy: "127.0.0.1" });
    const forwarded = { "X-Forwarded-Host": "app.example.org", "X-Forwarded-Proto": "https" };
    expect(await linkUrl(trusted.base, "internal:8080", forwarded)).toMatch(
      /^https:\/\/app\.example\.org\/auth\/links\//,
    );
    await trusted.close();
    served = undefined;
    const untrusted = await serve();
    expect(await linkUrl(untrusted.base, "evil.example", forwarded)).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });
});

describe("forwarded client addresses", () => {
  it("behind a trusted proxy, X-Forwarded-For that is no IP address is not taken as the client's", async () => {
    const { base } = await serve({ trustProxy: true });
    const pair = await login(base);
    const addressSeen = async (forwarded: string): Promise<unknown> => {
      const credentials = JSON.stringify({ username: pair.user.username, password: "secret123" });
      const fresh = await fetch(`${base}/auth/login`, {
        method: "POST",
        headers: { ...json, "x-forwarded-for": forwarded },
        body: credentials,
      });
      const { accessToken } = (await fresh.json()) as TokenPair;
      const session = await fetch(`${base}/auth/session`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      return ((await session.json()) as { session: { metadata: { ipAddress: unknown } } }).session.metadata
        .ipAddress;
    };
    expect(await addressSeen("203.0.113.7")).toBe("203.0.113.7");
    expect(await addressSeen("2001:db8::1, 10.0.0.1")).toBe("2001:db8::1");
    expect(await addressSeen('"><img src=x onerror=alert(1)>')).toBe("127.0.0.1");
    expect(await addressSeen(`1.2.3.4${"9".repeat(5000)}`)).toBe("127.0.0.1");
  });
});

describe("token guessing", () => {
  it("random well-formed session and link tokens from one address end in 429 rate_limited with Retry-After", async () => {
    const { base } = await serve();
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 40; i++) {
      last = await fetch(`${base}/auth/session`, {
        headers: { authorization: `Bearer ${generateOpaqueToken("session")}` },
      });
      statuses.push(last.status);
      await last.arrayBuffer();
    }
    expect(statuses.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
    const link = await fetch(`${base}/auth/links/${generateOpaqueToken("link")}`, {
      headers: { accept: "application/json" },
    });
    expect(link.status).toBe(429);
    expect(((await link.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
  });
});

describe("slow clients are cut", () => {
  it("a connection trickling its headers past the header timeout is closed with 408", async () => {
    const { port } = await serve({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    let trickle: NodeJS.Timeout | undefined;
    const raw = await rawExchange(port, (socket) => {
      socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      // A byte now and then, never the end of the headers: only the timeout can end this.
      trickle = setInterval(() => {
        if (socket.writable) socket.write("X");
      }, 20);
    });
    clearInterval(trickle);
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(raw)).toEqual({ error: { code: "invalid_request", message: expect.any(String) } });
  });

  it("a request whose body never finishes is cut by the request timeout", async () => {
    const { port } = await serve({ headersTimeoutMs: 100, requestTimeoutMs: 300 });
    const raw = await rawExchange(port, (socket) =>
      socket.write(
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
      ),
    );
    // Closed by the server (the exchange resolves on close); whatever it wrote is not a success.
    expect(raw).not.toMatch(/^HTTP\/1\.1 2/);
  });

  it("an idle keep-alive connection is closed after the keep-alive timeout", async () => {
    const { port } = await serve({ keepAliveTimeoutMs: 150 });
    const raw = await rawExchange(port, (socket) => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    // The exchange ends only when the server closes the idle connection.
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
  });
});
