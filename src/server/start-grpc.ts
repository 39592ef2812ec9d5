/**
 * The gRPC part of `tessera serve`: starts the SessionService on `config.grpcPort` (TLS
 * when both `grpcTlsCertFile` and `grpcTlsKeyFile` are set), or nothing when `config.grpc`
 * is off (then neither `@grpc/grpc-js` nor protobufjs is loaded). Kept apart from `start.ts` so that the composition root stays one line per surface.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Tessera } from "../engine/tessera.js";
import type { GrpcServerHandle, GrpcTlsOptions } from "../surfaces/grpc/server.js";
import type { SurfaceMetrics } from "../surfaces/http/metrics.js";
import { ConfigError, type ServerConfig } from "./config.js";

/** How long shutdown waits for gRPC calls in flight before cutting them off. */
const GRPC_SHUTDOWN_TIMEOUT_MS = 5000;

function readPem(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Cannot read ${setting} ${path}: ${reason}`);
  }
}

function tlsOf(config: ServerConfig): GrpcTlsOptions | undefined {
  if (config.grpcTlsCertFile === null || config.grpcTlsKeyFile === null) return undefined;
  return {
    certPem: readPem("grpcTlsCertFile", config.grpcTlsCertFile),
    keyPem: readPem("grpcTlsKeyFile", config.grpcTlsKeyFile),
  };
}

/** The running gRPC server, or null when gRPC is turned off. */
export async function startGrpc(
  config: ServerConfig,
  tessera: Tessera,
  logger: Logger,
  metrics: SurfaceMetrics | null = null,
): Promise<GrpcServerHandle | null> {
  if (!config.grpc) return null;
  const tls = tlsOf(config);
  // Loaded only when gRPC is on: @grpc/grpc-js and protobufjs are a large part of a start-up.
  const { startGrpcServer } = await import("../surfaces/grpc/server.js");
  return startGrpcServer({
    tessera,
    port: config.grpcPort,
    host: config.host,
    logger,
    shutdownTimeoutMs: GRPC_SHUTDOWN_TIMEOUT_MS,
    metrics,
    ...(tls === undefined ? {} : { tls }),
  });
}
