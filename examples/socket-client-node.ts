/**
 * A Node client for Tessera's socket protocol, end to end: log in over HTTP, upgrade the
 * access JWT to a session token (sockets take session tokens), open the WebSocket, send a
 * message to a gate, refresh in-band, and reconnect later with the refresh token alone.
 *
 *   npm start                                  # the server, in one terminal
 *   node dist/examples/socket-client-node.js   # after `npx tsc -p tsconfig.json` (examples are in its include)
 *
 * Environment: TESSERA_URL (default http://127.0.0.1:3000), TESSERA_USER, TESSERA_PASSWORD.
 * The server must have a gate named "echo" for the message step; `tessera serve` has no
 * gates, so that step answers `not_found` there, which this client reports and carries on.
 *
 * Over TCP the frames are the same, one JSON object per line (see the end of this file).
 * In a browser the only difference is that the WebSocket API cannot set headers: send the
 * `auth` frame (never put a token in the URL, where logs keep it) — see
 * `socket-client-browser.html`.
 */
import { once } from "node:events";
import { connect } from "node:net";
import WebSocket from "ws";

interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly sessionId: string;
}

type Frame = { readonly type: string } & Record<string, unknown>;

async function post(
  base: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${path}: ${JSON.stringify(json.error)}`);
  return json;
}

/** A WebSocket with a frame inbox: `next()` resolves with the next frame received. */
async function openSocket(
  url: string,
  log: (line: string) => void,
): Promise<{ ws: WebSocket; next(): Promise<Frame> }> {
  const ws = new WebSocket(url);
  const inbox: Frame[] = [];
  const waiting: ((frame: Frame) => void)[] = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else inbox.push(frame);
  });
  ws.on("close", (code, reason) => log(`socket closed: ${code} ${reason.toString()}`));
  await once(ws, "open");
  return {
    ws,
    next: () => {
      const frame = inbox.shift();
      return frame ? Promise.resolve(frame) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

export async function runExample(options: {
  readonly baseUrl: string;
  readonly username: string;
  readonly password: string;
  readonly log?: (line: string) => void;
}): Promise<Frame[]> {
  const log = options.log ?? console.log;
  const wsUrl = `${options.baseUrl.replace(/^http/, "ws")}/ws`;
  const seen: Frame[] = [];

  // 1. Log in (an access JWT) and upgrade it to a session token.
  const jwt = (await post(options.baseUrl, "/auth/login", {
    username: options.username,
    password: options.password,
  })) as unknown as TokenPair;
  let pair = (await post(
    options.baseUrl,
    "/auth/upgrade",
    undefined,
    jwt.accessToken,
  )) as unknown as TokenPair;
  log(`session ${pair.sessionId}`);

  // 2. Connect and authenticate with the session token, within 5 s of connecting.
  const socket = await openSocket(wsUrl, log);
  socket.ws.send(JSON.stringify({ type: "auth", token: pair.accessToken }));
  const ready = await socket.next();
  seen.push(ready);
  log(`ready: ${JSON.stringify(ready)}`);

  // 3. A message to a gate; the reply carries the same id.
  socket.ws.send(JSON.stringify({ type: "message", gate: "echo", id: "1", data: { hello: "world" } }));
  const reply = await socket.next();
  seen.push(reply);
  log(`${reply.type}: ${JSON.stringify(reply)}`);

  // 4. Refresh in-band: the old refresh token is spent; keep the new pair. The server may
  //    also push a `tokens` frame unasked when the session nears its end — store it likewise.
  socket.ws.send(JSON.stringify({ type: "refresh", refreshToken: pair.refreshToken }));
  const tokens = await socket.next();
  seen.push(tokens);
  pair = tokens as unknown as TokenPair;
  log(`tokens: new refresh token received for ${pair.sessionId}`);
  socket.ws.close(1000);

  // 5. A returning client: authenticate with the refresh token alone; `tokens` comes before `ready`.
  const again = await openSocket(wsUrl, log);
  again.ws.send(JSON.stringify({ type: "auth", refreshToken: pair.refreshToken }));
  const rotated = await again.next();
  const readyAgain = await again.next();
  seen.push(rotated, readyAgain);
  log(`reconnected: ${rotated.type} then ${readyAgain.type}`);
  pair = rotated as unknown as TokenPair;

  // 6. The same over TCP: newline-delimited JSON on its own port (default 3001).
  if (process.env.TESSERA_TCP_PORT) {
    const tcp = connect(Number(process.env.TESSERA_TCP_PORT), new URL(options.baseUrl).hostname);
    tcp.write(`${JSON.stringify({ type: "auth", token: pair.accessToken })}\n`);
    const [line] = (await once(tcp, "data")) as [Buffer];
    log(`tcp: ${line.toString().trim()}`);
    tcp.destroy();
  }
  again.ws.close(1000);
  return seen;
}

const invokedDirectly =
  process.argv[1]?.endsWith("socket-client-node.ts") || process.argv[1]?.endsWith("socket-client-node.js");
if (invokedDirectly) {
  await runExample({
    baseUrl: process.env.TESSERA_URL ?? "http://127.0.0.1:3000",
    username: process.env.TESSERA_USER ?? "hero",
    password: process.env.TESSERA_PASSWORD ?? "secret123",
  });
}
