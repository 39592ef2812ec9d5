/**
 * `startServer(config)`: the composition root. Opens the configured store (creating the
 * schema and, on first start, the signing keys), creates the engine, builds
 * the HTTP app and listens, then starts the gateways; `close()` undoes it in reverse: stop
 * accepting and finish in-flight requests, stop the gateways, stop the engine, close the
 * store.
 */
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Tessera } from "../engine/tessera.js";
import type { SessionStore } from "../stores/session-store.js";
import type { GrpcServerHandle } from "../surfaces/grpc/server.js";
import { buildHttpApp } from "../surfaces/http/app.js";
import { TesseraMetrics } from "../surfaces/http/metrics.js";
import { GateRegistry } from "../surfaces/socket/gates.js";
import { startTcpGateway, type TcpGateway } from "../surfaces/socket/tcp.js";
import { attachWebSocketGateway } from "../surfaces/socket/websocket.js";
import type { ServerConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { openEngine } from "./open-engine.js";
import { describeStore } from "./open-store.js";
import { installPartners } from "./partners.js";
import { startGrpc } from "./start-grpc.js";
import { startWebhooks, type WebhookDispatcher } from "./webhooks.js";

export interface ServerUrls {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:3000`. */
  readonly http: string;
  /** WebSocket endpoint (`/ws` on the HTTP port). */
  readonly ws: string;
  /** TCP socket gateway (`tcp://host:port`). */
  readonly tcp: string;
  /** gRPC target (`host:port`), unless gRPC is off. */
  readonly grpc?: string;
}

export interface RunningServer {
  readonly tessera: Tessera;
  readonly store: SessionStore;
  readonly http: FastifyInstance;
  /** The gRPC server; null when gRPC is off. */
  readonly grpc: GrpcServerHandle | null;
  /** The webhook loop; null without `--webhook-url`. */
  readonly webhooks: WebhookDispatcher | null;
  readonly logger: Logger;
  readonly urls: ServerUrls;
  /** Stops accepting, lets in-flight requests finish, closes everything. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** @default a pino logger at `config.logLevel` on stdout */
  readonly logger?: Logger;
  /** Where the "listening on" lines go. @default console.log */
  readonly print?: (line: string) => void;
  /** The application's socket gates (WebSocket and TCP). @default none: auth, refresh and ping only */
  readonly gates?: GateRegistry;
}

export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const print = options.print ?? ((line: string) => console.log(line));
  const engine = await openEngine(config, {
    onBackgroundError: (error, context) => logger.error({ err: error }, `background: ${context}`),
  });
  const { tessera, store } = engine;
  try {
    installPartners(tessera, config);
  } catch (error) {
    await engine.close();
    throw error;
  }
  const webhooks: WebhookDispatcher | null =
    config.webhookUrl === null || config.webhookSecret === null
      ? null
      : startWebhooks({
          tessera,
          store,
          url: config.webhookUrl,
          secret: config.webhookSecret,
          kinds: config.webhookEvents,
          reportError: (error, context) => logger.error({ err: error }, `background: ${context}`),
        });
  const stopWebhooks = async () => {
    await tessera.securityEventsSettled();
    await webhooks?.close();
  };

  // One registry for every surface: socket and gRPC validations and logins count too.
  const metrics = config.metrics ? new TesseraMetrics({ processMetrics: true }) : null;
  const http = buildHttpApp({
    tessera,
    logger,
    metrics: metrics ?? false,
    cookieSecure: config.cookieSecure,
    linkOrigins: config.linkOrigins,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    publicUrl: config.publicUrl,
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    keepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
    ...(config.bodyLimitBytes === null ? {} : { bodyLimitBytes: config.bodyLimitBytes }),
  });

  const gates = options.gates ?? new GateRegistry();
  const socket = { tessera, gates, log: logger, acceptAccessJwt: config.socketAcceptJwt, metrics };
  const wsGateway = attachWebSocketGateway({
    ...socket,
    server: http.server,
    cookieOrigins: config.linkOrigins,
  });

  try {
    await http.listen({ port: config.port, host: config.host });
  } catch (error) {
    await wsGateway.close();
    await http.close().catch(() => undefined);
    await stopWebhooks();
    await engine.close();
    throw error;
  }
  const address = http.server.address() as AddressInfo;
  const base = `http://${displayHost(config.host)}:${address.port}`;

  let tcp: TcpGateway;
  try {
    tcp = await startTcpGateway({ ...socket, port: config.tcpPort, host: config.host });
  } catch (error) {
    await wsGateway.close();
    await http.close().catch(() => undefined);
    await stopWebhooks();
    await engine.close();
    throw error;
  }
  let urls: ServerUrls = {
    http: base,
    ws: `${base.replace(/^http/, "ws")}/ws`,
    tcp: `tcp://${displayHost(config.host)}:${tcp.port}`,
  };
  print(`Socket gateways on ${urls.ws} and ${urls.tcp}`);
  let grpc: GrpcServerHandle | null;
  try {
    grpc = await startGrpc(config, tessera, logger, metrics);
  } catch (error) {
    await tcp.close();
    await wsGateway.close();
    await http.close().catch(() => undefined);
    await stopWebhooks();
    await engine.close();
    throw error;
  }
  if (grpc !== null) {
    const target = `${displayHost(config.host)}:${grpc.port}`;
    urls = { ...urls, grpc: target };
    print(`gRPC SessionService on ${target}${config.grpcTlsCertFile === null ? "" : " (TLS)"}`);
  }

  print(`Tessera listening on ${urls.http} (store: ${describeStore(config)})`);
  logger.info({ url: urls.http, store: describeStore(config) }, "listening");

  let closing: Promise<void> | undefined;
  return {
    tessera,
    store,
    http,
    grpc,
    webhooks,
    logger,
    urls,
    close() {
      closing ??= (async () => {
        // Sockets are told to go away (1001) first: an upgraded socket would hold the HTTP server open.
        await wsGateway.close();
        // Stop accepting first; Fastify lets in-flight requests finish and answers 503 to new ones.
        await http.close();
        await tcp.close();
        // Lets calls in flight finish for a few seconds, then cuts off the rest.
        await grpc?.close();
        // The last events are written and queued; deliveries in flight are handed back.
        await stopWebhooks();
        await engine.close();
        logger.info("stopped");
        // Lines are written asynchronously: make sure the last ones reach stdout.
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
      })();
      return closing;
    },
  };
}

/** A host to put in a URL: the wildcard addresses become localhost, IPv6 gets brackets. */
function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
