import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type ClientDuplexStream,
  credentials,
  type Client as GrpcClient,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, failureOf, type SessionClient, sessionClient } from "../../../test/grpc-kit.js";
import { makeEngine } from "../../../test/kit.js";
import { SqliteStore } from "../../stores/sqlite/sqlite-store.js";
import { type GrpcServerHandle, type GrpcServerOptions, startGrpcServer } from "./server.js";

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(
  engineOptions: Parameters<typeof makeEngine>[0] = {},
  serverOptions: Partial<GrpcServerOptions> = {},
): Promise<{
  tessera: Awaited<ReturnType<typeof makeEngine>>["tessera"];
  server: GrpcServerHandle;
  client: SessionClient;
}> {
  const { tessera } = await makeEngine(engineOptions);
  cleanups.push(() => tessera.close());
  const server = await startGrpcServer({ tessera, port: 0, host: "127.0.0.1", ...serverOptions });
  cleanups.push(() => server.close());
  const client = sessionClient(server.port);
  cleanups.push(() => client.close());
  return { tessera, server, client };
}

/** Sends raw bytes as a method's request, as a client with a broken encoder would. */
function rawCall(client: GrpcClient, method: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/tessera.v1.SessionService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      {},
      (error, response) => (error ? reject(error) : resolve(response ?? Buffer.alloc(0))),
    );
  });
}

describe("malformed requests", () => {
  it("bytes protobuf cannot decode are INVALID_ARGUMENT, not INTERNAL", async () => {
    const { client } = await serve();
    // Wire type 7 does not exist.
    const failure = await failureOf(rawCall(client, "CreateSession", Buffer.from([0x0f])));
    expect(failure).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
  });

  it("a field sent with the wrong type reads as absent and is INVALID_ARGUMENT", async () => {
    const { client } = await serve();
    // Field 1 (username) as a varint instead of a string.
    const failure = await failureOf(rawCall(client, "CreateSession", Buffer.from([0x08, 0x01])));
    expect(failure).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
  });

  it("a truncated field (field 1 claims 80 bytes, carries 1) is INVALID_ARGUMENT, not a short token", async () => {
    const { client } = await serve();
    for (const method of ["ReissueSession", "GetSession", "CreateSession"]) {
      const failure = await failureOf(rawCall(client, method, Buffer.from([0x0a, 0x50, 0x61])));
      expect(failure, method).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
    }
    // A length that is cut off itself, and a varint that never ends.
    for (const bytes of [
      [0x0a, 0xd0],
      [0x08, 0xff, 0xff],
    ]) {
      const failure = await failureOf(rawCall(client, "GetSession", Buffer.from(bytes)));
      expect(failure).toMatchObject({ status: status.INVALID_ARGUMENT, code: "invalid_request" });
    }
  });

  it("well-formed messages of every shape still decode, unknown fields included", async () => {
    const { client } = await serve();
    // Field 9 (unknown) as fixed64, then as fixed32, then the token: decoded, and refused as a token.
    const bytes = Buffer.from([0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x4d, 1, 2, 3, 4, 0x0a, 0x03, 0x61, 0x62, 0x63]);
    const failure = await failureOf(rawCall(client, "ReissueSession", bytes));
    expect(failure).toMatchObject({ status: status.UNAUTHENTICATED, code: "token_invalid" });
  });

  it("a message larger than maxRequestBytes is refused before decoding", async () => {
    const { client, tessera } = await serve({}, { maxRequestBytes: 1024 });
    const user = await tessera.register({ username: "big", password: "secret123" });
    const failure = await failureOf(
      call(client, "CreateSession", { username: "big", password: "p".repeat(2000), device_uuid: "d" }),
    );
    expect(failure.status).toBe(status.RESOURCE_EXHAUSTED);
    expect(await tessera.listSessions(user.id)).toEqual([]);
  });
});

describe("engine conditions", () => {
  it("a throttled login is RESOURCE_EXHAUSTED rate_limited with retry-after", async () => {
    const { client, tessera } = await serve({ loginThrottle: { maxFailuresPerUser: 2 } });
    await tessera.register({ username: "target", password: "secret123" });
    const attempt = (password: string) =>
      failureOf(call(client, "CreateSession", { username: "target", password, device_uuid: "d" }));
    expect((await attempt("wrong-1")).code).toBe("invalid_credentials");
    expect((await attempt("wrong-2")).code).toBe("invalid_credentials");
    const throttled = await attempt("secret123");
    expect(throttled).toMatchObject({ status: status.RESOURCE_EXHAUSTED, code: "rate_limited" });
    expect(Number(throttled.metadata.get("retry-after")[0])).toBeGreaterThanOrEqual(1);
  });

  it("a store that is down is UNAVAILABLE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-grpc-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = SqliteStore.open({ path: join(dir, "tessera.db") });
    const { client, tessera } = await serve({ store });
    await tessera.register({ username: "hero", password: "secret123" });
    await store.close();
    const failure = await failureOf(
      call(client, "CreateSession", { username: "hero", password: "secret123", device_uuid: "d" }),
    );
    expect(failure).toMatchObject({ status: status.UNAVAILABLE, code: "unavailable" });
  });
});

describe("deadlines", () => {
  it("a CreateSession whose deadline passed during login leaves no session behind", async () => {
    const { client, tessera } = await serve();
    const user = await tessera.register({ username: "slow", password: "secret123" });
    let clientGaveUp: () => void = () => {};
    const gaveUp = new Promise<void>((resolve) => {
      clientGaveUp = resolve;
    });
    tessera.hook("login", async () => {
      await gaveUp;
      // The server's own deadline timer starts after the client's; let it fire too.
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    const created = new Promise<string>((resolve) => {
      tessera.hook("sessionCreated", ({ session }) => resolve(session.id));
    });
    const failure = await failureOf(
      call(
        client,
        "CreateSession",
        { username: "slow", password: "secret123", device_uuid: "d" },
        new Metadata(),
        {
          deadline: Date.now() + 300,
        },
      ),
    );
    clientGaveUp();
    expect(failure.status).toBe(status.DEADLINE_EXCEEDED);
    expect(await created).toEqual(expect.any(String));
    // Created after the caller left, then ended: nobody holds its tokens.
    await vi.waitFor(async () => expect(await tessera.listSessions(user.id)).toEqual([]));
  });
});

describe("shutdown", () => {
  it("close() lets a call in flight finish", async () => {
    const { client, tessera, server } = await serve();
    await tessera.register({ username: "inflight", password: "secret123" });
    let entered: () => void = () => {};
    const inLogin = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    tessera.hook("login", async () => {
      entered();
      await released;
    });
    const pending = call(client, "CreateSession", {
      username: "inflight",
      password: "secret123",
      device_uuid: "d",
    });
    await inLogin;
    const closing = server.close();
    release();
    await closing;
    expect((await pending).auth_token).toMatch(/^tss_/);
  });

  it("close() cuts off a call that outlasts the shutdown timeout", async () => {
    const { client, tessera, server } = await serve({}, { shutdownTimeoutMs: 50 });
    await tessera.register({ username: "stuck", password: "secret123" });
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    cleanups.push(() => release());
    let entered: () => void = () => {};
    const inLogin = new Promise<void>((resolve) => {
      entered = resolve;
    });
    tessera.hook("login", async () => {
      entered();
      await released;
    });
    const pending = failureOf(
      call(client, "CreateSession", { username: "stuck", password: "secret123", device_uuid: "d" }),
    );
    await inLogin;
    await server.close();
    expect([status.CANCELLED, status.UNAVAILABLE, status.INTERNAL]).toContain((await pending).status);
    // Closed means closed: a new call cannot connect.
    const after = await failureOf(
      call(client, "GetSession", { token: "x" }, new Metadata(), { deadline: Date.now() + 2000 }),
    );
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(after.status);
  });
});

describe("reflection", () => {
  const require = createRequire(import.meta.url);
  const reflectionProto = join(
    dirname(require.resolve("@grpc/reflection")),
    "..",
    "proto",
    "grpc",
    "reflection",
    "v1",
    "reflection.proto",
  );
  type ReflectionStream = ClientDuplexStream<object, Record<string, Record<string, unknown>>>;
  const reflection = loadPackageDefinition(loadSync(reflectionProto, { keepCase: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  };

  async function ask(port: number, request: object): Promise<Record<string, Record<string, unknown>>> {
    const Ctor = reflection.grpc.reflection.v1.ServerReflection;
    const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as GrpcClient & {
      ServerReflectionInfo(): ReflectionStream;
    };
    cleanups.push(() => client.close());
    const stream = client.ServerReflectionInfo();
    return new Promise((resolve, reject) => {
      stream.on("data", (response) => {
        resolve(response);
        stream.end();
      });
      stream.on("error", (error: ServiceError) => reject(error));
      stream.write(request);
    });
  }

  it("lists tessera.v1.SessionService and describes its methods", async () => {
    const { server } = await serve();
    const listed = await ask(server.port, { list_services: "" });
    const names = (listed.list_services_response?.service as { name: string }[]).map((s) => s.name);
    expect(names).toContain("tessera.v1.SessionService");

    const described = await ask(server.port, { file_containing_symbol: "tessera.v1.SessionService" });
    const files = described.file_descriptor_response?.file_descriptor_proto as Buffer[];
    const text = Buffer.concat(files).toString("latin1");
    for (const method of ["CreateSession", "ReissueSession", "DestroySession", "GetSession"]) {
      expect(text).toContain(method);
    }
  });

  it("can be turned off", async () => {
    const { server } = await serve({}, { reflection: false });
    const failure = await failureOf(ask(server.port, { list_services: "" }));
    expect(failure.status).toBe(status.UNIMPLEMENTED);
  });
});

function openssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Node cannot make an X.509 certificate by itself; without openssl there is nothing to serve.
describe.skipIf(!openssl())("TLS (needs the openssl command)", () => {
  it("serves over TLS to a client that trusts the certificate, and refuses plaintext", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-grpc-tls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        .concat(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .concat(["-keyout", keyPath, "-out", certPath]),
      { stdio: "ignore" },
    );
    const certPem = readFileSync(certPath);
    const { tessera, server } = await serve({}, { tls: { certPem, keyPem: readFileSync(keyPath) } });
    await tessera.register({ username: "secure", password: "secret123" });

    // SNI carries a host name, never an IP address (RFC 6066).
    const tlsClient = sessionClient(server.port, credentials.createSsl(certPem), {
      "grpc.ssl_target_name_override": "localhost",
    });
    cleanups.push(() => tlsClient.close());
    const created = await call(tlsClient, "CreateSession", {
      username: "secure",
      password: "secret123",
      device_uuid: "d",
    });
    expect(created.auth_token).toMatch(/^tss_/);

    const plain = sessionClient(server.port);
    cleanups.push(() => plain.close());
    const failure = await failureOf(
      call(plain, "GetSession", { token: created.auth_token }, new Metadata(), {
        deadline: Date.now() + 2000,
      }),
    );
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(failure.status);
  });
});
