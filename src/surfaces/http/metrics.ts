/**
 * Prometheus metrics for a Tessera server (prom-client, one registry per server so that
 * several servers in one process never collide). Engine activity is counted from the
 * engine's hooks and events, so it includes every surface; what only a surface sees (a
 * failed login's code, a validation's outcome, request latency) is recorded by the surface.
 * Labels are closed sets (codes, providers, route patterns) — never a token, a username or
 * a raw URL.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { Tessera } from "../../engine/tessera.js";
import type { ErrorCode } from "../../errors.js";

type LatencyChild = ReturnType<Histogram<"method" | "route" | "status">["labels"]>;
type ValidationChild = ReturnType<Counter<"result">["labels"]>;

/** What the socket and gRPC surfaces count themselves: validations and refused logins. */
export type SurfaceMetrics = Pick<TesseraMetrics, "validated" | "loginFailed">;

export interface TesseraMetricsOptions {
  /** Registry to add the metrics to. @default a new one */
  readonly registry?: Registry;
  /** Also collect prom-client's process metrics (memory, event loop, GC). @default false */
  readonly processMetrics?: boolean;
}

export class TesseraMetrics {
  readonly registry: Registry;
  readonly #logins: Counter<"provider">;
  readonly #loginFailures: Counter<"code">;
  readonly #validations: Counter<"result">;
  readonly #refreshes: Counter;
  readonly #reuse: Counter;
  readonly #revocations: Counter<"reason">;
  readonly #securityEvents: Counter<"kind">;
  readonly #latency: Histogram<"method" | "route" | "status">;
  readonly #latencyBy = new Map<string, Map<string, Map<number, LatencyChild>>>();
  readonly #validationsBy = new Map<string, ValidationChild>();

  constructor(options: TesseraMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.#logins = new Counter({
      name: "tessera_logins_total",
      help: "Sessions started, by the provider that authenticated the user.",
      labelNames: ["provider"],
      registers,
    });
    this.#loginFailures = new Counter({
      name: "tessera_login_failures_total",
      help: "Refused logins, by error code.",
      labelNames: ["code"],
      registers,
    });
    this.#validations = new Counter({
      name: "tessera_validations_total",
      help: "Credential validations by surfaces, by result (ok or the error code).",
      labelNames: ["result"],
      registers,
    });
    this.#refreshes = new Counter({
      name: "tessera_refreshes_total",
      help: "Refresh tokens rotated.",
      registers,
    });
    this.#reuse = new Counter({
      name: "tessera_refresh_reuse_detections_total",
      help: "Spent refresh tokens shown again: each revoked its session.",
      registers,
    });
    this.#revocations = new Counter({
      name: "tessera_revocations_total",
      help: "Sessions ended, by reason (from this process or another sharing the store).",
      labelNames: ["reason"],
      registers,
    });
    this.#securityEvents = new Counter({
      name: "tessera_security_events_total",
      help: "Security events this process recorded, by kind (every surface: HTTP, sockets, gRPC, CLI, library).",
      labelNames: ["kind"],
      registers,
    });
    this.#latency = new Histogram({
      name: "tessera_http_request_duration_seconds",
      help: "HTTP request latency, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }

  /**
   * Counts the engine's logins, refreshes, revocations and security events (whichever
   * surface caused them); returns a function that stops.
   */
  observe(tessera: Tessera): () => void {
    const stops = [
      tessera.hook("sessionCreated", ({ provider }) => {
        this.#logins.inc({ provider });
      }),
      tessera.hook("refresh", () => {
        this.#refreshes.inc();
      }),
      tessera.onSecurityEvent((event) => {
        this.#securityEvents.inc({ kind: event.kind });
      }),
      tessera.subscribe((event) => {
        if (event.type !== "session_ended") return;
        this.#revocations.inc({ reason: event.reason });
        if (event.reason === "refresh_token_reused") this.#reuse.inc();
      }),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }

  loginFailed(code: ErrorCode): void {
    this.#loginFailures.inc({ code });
  }

  validated(result: ErrorCode | "ok"): void {
    let child = this.#validationsBy.get(result);
    if (child === undefined) {
      child = this.#validations.labels(result);
      this.#validationsBy.set(result, child);
    }
    child.inc();
  }

  request(method: string, route: string, status: number, seconds: number): void {
    // prom-client hashes a label object into a key on every observe; the labelled child,
    // looked up here by route, method and status (closed sets), skips that.
    let byMethod = this.#latencyBy.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#latencyBy.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let child = byStatus.get(status);
    if (child === undefined) {
      child = this.#latency.labels(method, route, String(status));
      byStatus.set(status, child);
    }
    child.observe(seconds);
  }
}
