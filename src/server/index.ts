/**
 * `tessera/server`: run the Tessera server from code, or mount its HTTP API in a Fastify
 * application of your own. Re-exports only.
 */

export type { HttpAppOptions } from "../surfaces/http/app.js";
export { buildHttpApp } from "../surfaces/http/app.js";
export type { TesseraMetricsOptions } from "../surfaces/http/metrics.js";
export { TesseraMetrics } from "../surfaces/http/metrics.js";
export type { LoadConfigInput, ServerConfig } from "./config.js";
export { ConfigError, loadConfig, SETTINGS } from "./config.js";
export { createLogger } from "./logger.js";
export type { ShutdownOptions } from "./shutdown.js";
export { installShutdownHandlers } from "./shutdown.js";
export type { RunningServer, ServerUrls, StartOptions } from "./start.js";
export { startServer } from "./start.js";
