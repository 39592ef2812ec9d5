/**
 * Issue 5's claim, measured over a real port with a real `@grpc/grpc-js` client on one
 * channel: GetSession with a session token (a digest and a cache lookup on the server)
 * against GetSession with an access JWT (verified-claims cache after the first call), one
 * call at a time (latency-bound) and with many in flight (throughput); and CreateSession,
 * which is bound by argon2id at the production parameters.
 *
 * The floor is grpc-js itself: the same method served by a handler that answers a
 * constant response, so the table shows how much of a call is Tessera's and how much the
 * transport's. Client and server share one process, as in the tests.
 */
import { cpus } from "node:os";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { protoPath } from "../src/surfaces/grpc/definition.js";
import { startGrpcServer } from "../src/surfaces/grpc/server.js";
import { median, printTable, type Result } from "./measure.js";

type Unary = (
  request: object,
  metadata: Metadata,
  callback: (error: Error | null, response?: unknown) => void,
) => void;
interface Client {
  GetSession: Unary;
  CreateSession: Unary;
  close(): void;
}

function unary(client: Client, method: "GetSession" | "CreateSession", request: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    client[method](request, new Metadata(), (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** Completed calls per second with `concurrency` calls kept in flight for `ms`. */
async function callsPerSecond(op: () => Promise<unknown>, concurrency: number, ms: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  const end = start + ms;
  const worker = async () => {
    while (performance.now() < end) {
      await op();
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - start) / 1000);
}

/** Interleaved rounds, median of each (see measure.ts for why interleaved). */
async function rounds(
  title: string,
  candidates: readonly { name: string; op: () => Promise<unknown>; concurrency: number }[],
  options: { rounds: number; ms: number },
): Promise<Result[]> {
  for (const c of candidates) await callsPerSecond(c.op, c.concurrency, 200); // warm-up
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const c of candidates)
      samples.get(c.name)?.push(await callsPerSecond(c.op, c.concurrency, options.ms));
  }
  const results = candidates.map((c) => ({ name: c.name, opsPerSecond: median(samples.get(c.name) ?? []) }));
  printTable(title, results, "calls/s");
  return results;
}

export async function benchGrpc(): Promise<void> {
  // Production argon2id parameters: CreateSession is meant to cost what a real login costs.
  const tessera = await Tessera.create({ store: new MemoryStore(), loginThrottle: false });
  const server = await startGrpcServer({ tessera, port: 0, host: "127.0.0.1" });
  const definition = loadSync(protoPath(), { keepCase: true, longs: String });
  const pkg = loadPackageDefinition(definition) as unknown as {
    tessera: { v1: { SessionService: ServiceClientConstructor } };
  };
  const connect = (port: number) =>
    new pkg.tessera.v1.SessionService(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client;
  const client = connect(server.port);
  const floor = await constantServer(definition["tessera.v1.SessionService"] as ServiceDefinition);
  const floorClient = connect(floor.port);

  await tessera.register({ username: "bench", password: "bench-password" });
  const created = (await unary(client, "CreateSession", {
    username: "bench",
    password: "bench-password",
    device_uuid: "bench-device",
  })) as { auth_token: string };
  const jwt = (await tessera.login({ username: "bench", password: "bench-password" })).accessToken;
  const bySession = () => unary(client, "GetSession", { token: created.auth_token });
  const byJwt = () => unary(client, "GetSession", { token: jwt });
  const byFloor = () => unary(floorClient, "GetSession", { token: created.auth_token });
  const inFlight = 64;

  const results = await rounds(
    "gRPC GetSession over one channel: session token vs access JWT",
    [
      { name: "(floor: grpc-js constant answer), 1 in flight", op: byFloor, concurrency: 1 },
      { name: "GetSession(session token), 1 in flight", op: bySession, concurrency: 1 },
      { name: "GetSession(access JWT), 1 in flight", op: byJwt, concurrency: 1 },
      { name: `(floor: grpc-js constant answer), ${inFlight} in flight`, op: byFloor, concurrency: inFlight },
      { name: `GetSession(session token), ${inFlight} in flight`, op: bySession, concurrency: inFlight },
      { name: `GetSession(access JWT), ${inFlight} in flight`, op: byJwt, concurrency: inFlight },
    ],
    { rounds: 5, ms: 1000 },
  );
  const [, , , , session, jwtResult] = results;
  if (session && jwtResult) {
    console.log(
      `\nsession token vs JWT at ${inFlight} in flight: ${(session.opsPerSecond / jwtResult.opsPerSecond).toFixed(2)}×`,
    );
  }

  let device = 0;
  const create = () =>
    unary(client, "CreateSession", {
      username: "bench",
      password: "bench-password",
      device_uuid: `d-${device++}`,
    });
  await rounds(
    `gRPC CreateSession (argon2id m=19456 t=2, ${cpus().length} CPUs)`,
    [
      { name: "CreateSession, 1 in flight", op: create, concurrency: 1 },
      { name: "CreateSession, 16 in flight", op: create, concurrency: 16 },
    ],
    { rounds: 3, ms: 1000 },
  );

  client.close();
  floorClient.close();
  floor.server.forceShutdown();
  await server.close();
  tessera.close();
}

/** The same service with a handler that does no work: the transport's own cost. */
async function constantServer(definition: ServiceDefinition): Promise<{ server: Server; port: number }> {
  const server = new Server();
  const answer = {
    session_id: "00000000-0000-4000-8000-000000000000",
    user_id: 1,
    username: "bench",
    user_uuid: "00000000-0000-4000-8000-000000000001",
    device_uuid: "bench-device",
    exp: 2_000_000_000,
    token_type: "session",
    data_json: "null",
    credential: "session",
    created_at: 1_800_000_000,
    last_seen_at: 1_800_000_000,
    user_agent: "grpc-node-js",
    ip_address: "127.0.0.1",
  };
  server.addService(definition, {
    GetSession: (_call: unknown, callback: (error: null, response: object) => void) => callback(null, answer),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { server, port };
}
