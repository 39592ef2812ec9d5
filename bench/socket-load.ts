/**
 * The client side of `bench/sockets.ts`, run as a child process so that the server's core
 * is measured alone: it floods a gate through many pipelined connections, or opens and
 * holds thousands of authenticated WebSockets. Commands and results travel over IPC.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import WebSocket from "ws";

export type LoadCommand =
  | {
      readonly cmd: "flood";
      readonly transport: "websocket" | "tcp";
      readonly target: string;
      readonly token: string;
      readonly connections: number;
      /** Messages in flight per connection. */
      readonly window: number;
      readonly durationMs: number;
    }
  | {
      readonly cmd: "hold";
      readonly transport: "websocket" | "tcp";
      readonly target: string;
      readonly tokens: readonly string[];
      readonly count: number;
    }
  | { readonly cmd: "release" }
  | { readonly cmd: "exit" };

export type LoadResult =
  | { readonly replies: number; readonly elapsedMs: number }
  | { readonly opened: number; readonly failed: number; readonly firstError: string | null }
  | { readonly released: number };

/** A connection that speaks frames: send one, hear each one. */
interface Line {
  send(frame: object): void;
  onFrame(listener: (frame: { type: string }) => void): void;
  close(): void;
}

async function open(transport: "websocket" | "tcp", target: string): Promise<Line> {
  if (transport === "websocket") {
    const ws = new WebSocket(target, { perMessageDeflate: false });
    ws.on("error", () => ws.terminate());
    await once(ws, "open");
    return {
      send: (frame) => ws.send(JSON.stringify(frame)),
      onFrame: (listener) => ws.on("message", (data) => listener(JSON.parse(String(data)))),
      close: () => ws.terminate(),
    };
  }
  const socket: Socket = connect(Number(target), "127.0.0.1");
  socket.setNoDelay(true);
  socket.on("error", () => socket.destroy());
  await once(socket, "connect");
  const listeners: ((frame: { type: string }) => void)[] = [];
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      const frame = JSON.parse(buffered.slice(0, newline)) as { type: string };
      buffered = buffered.slice(newline + 1);
      for (const listener of listeners) listener(frame);
      newline = buffered.indexOf("\n");
    }
  });
  return {
    send: (frame) => socket.write(`${JSON.stringify(frame)}\n`),
    onFrame: (listener) => listeners.push(listener),
    close: () => socket.destroy(),
  };
}

async function authenticated(transport: "websocket" | "tcp", target: string, token: string): Promise<Line> {
  const line = await open(transport, target);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no ready frame within 10 s")), 10_000);
    line.onFrame((frame) => {
      if (frame.type !== "ready" && frame.type !== "error") return;
      clearTimeout(timer);
      if (frame.type === "ready") resolve();
      else reject(new Error(`refused: ${JSON.stringify(frame)}`));
    });
  });
  line.send({ type: "auth", token });
  await ready;
  return line;
}

async function flood(command: Extract<LoadCommand, { cmd: "flood" }>): Promise<LoadResult> {
  const lines = await Promise.all(
    Array.from({ length: command.connections }, () =>
      authenticated(command.transport, command.target, command.token),
    ),
  );
  let replies = 0;
  let running = true;
  const data = { x: 1, y: 2, dir: "north" };
  const started = performance.now();
  for (const line of lines) {
    let next = 0;
    line.onFrame((frame) => {
      if (frame.type !== "reply") return;
      replies += 1;
      if (running) line.send({ type: "message", gate: "echo", id: String(next++), data });
    });
    for (let i = 0; i < command.window; i++)
      line.send({ type: "message", gate: "echo", id: String(next++), data });
  }
  await new Promise((resolve) => setTimeout(resolve, command.durationMs));
  running = false;
  const elapsedMs = performance.now() - started;
  const counted = replies;
  for (const line of lines) line.close();
  return { replies: counted, elapsedMs };
}

const held: Line[] = [];

async function hold(command: Extract<LoadCommand, { cmd: "hold" }>): Promise<LoadResult> {
  let failed = 0;
  let firstError: string | null = null;
  const batch = 250;
  for (let start = 0; start < command.count; start += batch) {
    const size = Math.min(batch, command.count - start);
    const settled = await Promise.allSettled(
      Array.from({ length: size }, (_, i) =>
        authenticated(
          command.transport,
          command.target,
          command.tokens[(start + i) % command.tokens.length] ?? "",
        ),
      ),
    );
    for (const outcome of settled) {
      if (outcome.status === "fulfilled") held.push(outcome.value);
      else {
        failed += 1;
        firstError ??= String(outcome.reason);
      }
    }
    if (failed > 0) break; // out of file descriptors or refused: that is the answer
  }
  return { opened: held.length, failed, firstError };
}

process.on("message", (command: LoadCommand) => {
  const run = async (): Promise<LoadResult | null> => {
    switch (command.cmd) {
      case "flood":
        return flood(command);
      case "hold":
        return hold(command);
      case "release": {
        const released = held.length;
        for (const line of held.splice(0)) line.close();
        return { released };
      }
      case "exit":
        process.exit(0);
        return null;
      default:
        return command satisfies never;
    }
  };
  void run().then((result) => process.send?.(result));
});
