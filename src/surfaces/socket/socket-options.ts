/**
 * The options both gateways share (limits, timeouts, heartbeat), with their defaults, and
 * their resolution into the plain numbers a `Connection` reads.
 */
import type { Tessera } from "../../engine/tessera.js";
import type { SurfaceMetrics } from "../http/metrics.js";
import { FrameRate } from "./frame-bucket.js";
import type { GateRegistry } from "./gates.js";
import { LoginSlots } from "./login-slots.js";

/** Where the gateways log what a client must not see (a gate's stack). pino's `error(obj, msg)` fits. */
export interface SocketLogger {
  error(details: Record<string, unknown>, message: string): void;
}

export interface SocketOptions {
  readonly tessera: Tessera;
  readonly gates: GateRegistry;
  /** Time from connecting to `ready` before closing with `auth_timeout`. @default 5000 */
  readonly authTimeoutMs?: number;
  /** Accept access JWTs as socket credentials (the contract asks for an upgrade first). @default false */
  readonly acceptAccessJwt?: boolean;
  /** Largest frame (a WebSocket message, a TCP line) in bytes. @default 65536 */
  readonly maxFrameBytes?: number;
  /** Sustained frames per second per socket. @default 100 */
  readonly framesPerSecond?: number;
  /** Frames a socket may send in a burst. @default 2 × framesPerSecond */
  readonly frameBurst?: number;
  /** Failed `auth` attempts before the socket is closed; the contract's behaviour is 1. @default 1 */
  readonly maxAuthAttempts?: number;
  /** Heartbeat period: liveness checks, session expiry checks and token renewal. @default 30000 */
  readonly heartbeatIntervalMs?: number;
  /**
   * A peer heard nothing from this long (no frame, and on WebSocket no pong to the
   * heartbeat's ping) is dropped. @default 2 × heartbeatIntervalMs
   */
  readonly peerTimeoutMs?: number;
  /** Push fresh tokens at a heartbeat when the session has less than this left. @default 10% of the session lifetime */
  readonly renewBeforeExpiryMs?: number;
  /**
   * Logins over this gateway (`auth` frames naming a `provider`) in flight at once; more
   * are refused at once with `rate_limited`, so a socket login flood cannot fill the
   * password hasher's queue that HTTP and gRPC logins share. @default 4
   */
  readonly maxConcurrentLogins?: number;
  /** Open connections (authenticated or not) per gateway; more are refused with `unavailable`. @default 10000 */
  readonly maxConnections?: number;
  /** Milliseconds since the epoch, for session expiry; must match the engine's clock. @default the engine's clock */
  readonly clock?: () => number;
  /** @default stderr */
  readonly log?: SocketLogger;
  /** Counts socket validations and refused socket logins (the server passes its `/metrics`). @default none */
  readonly metrics?: SurfaceMetrics | null;
}

export interface ResolvedSocketOptions {
  readonly tessera: Tessera;
  readonly gates: GateRegistry;
  readonly authTimeoutMs: number;
  readonly acceptAccessJwt: boolean;
  readonly maxFrameBytes: number;
  readonly framesPerSecond: number;
  readonly frameBurst: number;
  /** The frame limit of `framesPerSecond` and `frameBurst`, shared by every connection of one gateway. */
  readonly frameRate: FrameRate;
  readonly maxAuthAttempts: number;
  readonly heartbeatIntervalMs: number;
  readonly peerTimeoutMs: number;
  readonly renewBeforeExpiryMs: number;
  readonly maxConnections: number;
  /** Shared by every connection of one gateway. */
  readonly loginSlots: LoginSlots;
  readonly clock: () => number;
  readonly log: SocketLogger;
  readonly metrics: SurfaceMetrics | null;
}

const stderrLogger: SocketLogger = {
  error(details, message) {
    console.error(`tessera socket: ${message}`, details);
  },
};

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
  return value;
}

export function resolveSocketOptions(options: SocketOptions): ResolvedSocketOptions {
  const framesPerSecond = positive("framesPerSecond", options.framesPerSecond ?? 100);
  const heartbeatIntervalMs = positive("heartbeatIntervalMs", options.heartbeatIntervalMs ?? 30_000);
  const frameBurst = positive("frameBurst", options.frameBurst ?? framesPerSecond * 2);
  return {
    tessera: options.tessera,
    gates: options.gates,
    authTimeoutMs: positive("authTimeoutMs", options.authTimeoutMs ?? 5000),
    acceptAccessJwt: options.acceptAccessJwt ?? false,
    maxFrameBytes: positive("maxFrameBytes", options.maxFrameBytes ?? 64 * 1024),
    framesPerSecond,
    frameBurst,
    frameRate: new FrameRate({ perSecond: framesPerSecond, burst: frameBurst }),
    maxAuthAttempts: positive("maxAuthAttempts", options.maxAuthAttempts ?? 1),
    heartbeatIntervalMs,
    peerTimeoutMs: positive("peerTimeoutMs", options.peerTimeoutMs ?? 2 * heartbeatIntervalMs),
    renewBeforeExpiryMs: positive(
      "renewBeforeExpiryMs",
      options.renewBeforeExpiryMs ?? options.tessera.options.sessionTtlMs / 10,
    ),
    maxConnections: positive("maxConnections", options.maxConnections ?? 10_000),
    metrics: options.metrics ?? null,
    loginSlots: new LoginSlots(positive("maxConcurrentLogins", options.maxConcurrentLogins ?? 4)),
    clock: options.clock ?? options.tessera.clock,
    log: options.log ?? stderrLogger,
  };
}
