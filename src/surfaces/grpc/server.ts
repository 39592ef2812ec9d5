/**
 * `startGrpcServer`: serves `tessera.v1.SessionService` (and, by default, the gRPC server
 * reflection service so that grpcurl and other generic tools can list and call it) on
 * its own port, over TLS when given a certificate.
 *
 * ```ts
 * const grpc = await startGrpcServer({ tessera, port: 50051 });
 * // …
 * await grpc.close(); // lets calls in flight finish, then cuts off what is left
 * ```
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { Tessera } from "../../engine/tessera.js";
import type { SurfaceMetrics } from "../http/metrics.js";
import { loadPackage, sessionServiceDefinition } from "./definition.js";
import { sessionServiceHandlers } from "./session-service.js";
import type { GrpcLogger } from "./status.js";

export interface GrpcTlsOptions {
  /** The server's certificate chain, PEM. */
  readonly certPem: string | Buffer;
  /** Its private key, PEM. */
  readonly keyPem: string | Buffer;
  /** When set, clients must present a certificate signed by one of these CAs (mutual TLS). */
  readonly clientCaPem?: string | Buffer;
}

export interface GrpcServerOptions {
  readonly tessera: Tessera;
  /** 0 picks a free port (see `port` on the result). @default 50051 */
  readonly port?: number;
  /** @default "0.0.0.0" */
  readonly host?: string;
  /** Serve over TLS; plaintext when absent. */
  readonly tls?: GrpcTlsOptions;
  /** Also serve gRPC server reflection (v1 and v1alpha). @default true */
  readonly reflection?: boolean;
  /** Where internal errors (with their stacks) are reported; pino-compatible. @default no logging */
  readonly logger?: GrpcLogger;
  /**
   * Largest request message accepted; a larger one is refused with RESOURCE_EXHAUSTED by
   * grpc-js before it is decoded. Every valid request is far smaller (the longest field is
   * an 8 KiB token). @default 65536
   */
  readonly maxRequestBytes?: number;
  /** How long `close()` waits for calls in flight before cutting them off. @default 5000 */
  readonly shutdownTimeoutMs?: number;
  /** Counts validations and refused logins (the server passes its `/metrics`). @default none */
  readonly metrics?: SurfaceMetrics | null;
}

export interface GrpcServerHandle {
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** Stops accepting calls, waits up to `shutdownTimeoutMs` for those in flight, then forces. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_PORT = 50051;
const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;

function address(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function credentials(tls: GrpcTlsOptions | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const clientCa = tls.clientCaPem === undefined ? null : Buffer.from(tls.clientCaPem);
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }],
    clientCa !== null,
  );
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const pkg = loadPackage();
  const server = new Server({
    "grpc.max_receive_message_length": options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
  });
  server.addService(
    sessionServiceDefinition(pkg),
    sessionServiceHandlers({
      tessera: options.tessera,
      logger: options.logger,
      metrics: options.metrics ?? null,
    }),
  );
  if (options.reflection !== false) new ReflectionService(pkg).addToServer(server);

  const target = address(options.host ?? "0.0.0.0", options.port ?? DEFAULT_PORT);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, credentials(options.tls), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });

  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
