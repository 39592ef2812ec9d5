/**
 * The Node socket client example (`examples/socket-client-node.ts`) run against a real
 * server with an `echo` gate, so the example cannot silently drift from the protocol.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { runExample } from "../examples/socket-client-node.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { GateRegistry } from "../src/surfaces/socket/gates.js";
import { tempDir, testConfig } from "./server-kit.js";

let server: RunningServer;
const dir = tempDir();

beforeAll(async () => {
  const gates = new GateRegistry().register("echo", ({ data }) => data);
  server = await startServer(testConfig(dir.path), { print: () => undefined, gates });
  await server.tessera.register({ username: "example", password: "secret123" });
});
afterAll(async () => {
  await server.close();
  dir.remove();
});

it("the Node example logs in, upgrades, connects, messages a gate, refreshes and reconnects with its refresh token", async () => {
  const seen = await runExample({
    baseUrl: server.urls.http,
    username: "example",
    password: "secret123",
    log: () => undefined,
  });
  expect(seen.map((frame) => frame.type)).toEqual(["ready", "reply", "tokens", "tokens", "ready"]);
  expect(seen[1]).toEqual({ type: "reply", id: "1", data: { hello: "world" } });
});
