/**
 * Prometheus metrics for a Tessera server (prom-client, one registry per server so that
 * several servers in one process never collide). Engine activity is counted from the
 * engine's hooks and events, so it includes every surface; what only a surface sees (a
 * failed login's code, a validation's outcome, request latency) is recorded by the surface.
 * Labels are closed sets (codes, providers, route patterns) — never a token, a username or
 * a raw URL.
 */
import { Counter, collectDefaultMetrics, type Metric, Registry } from "prom-client";
import type { Tessera } from "../../engine/tessera.js";
import type { ErrorCode } from "../../errors.js";

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
  readonly #latency: LatencyHistogram;
  readonly #latencyBy = new Map<string, Map<string, Map<number, LatencySeries>>>();
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
    this.#latency = new LatencyHistogram(
      "tessera_http_request_duration_seconds",
      "HTTP request latency, by method, route pattern and status.",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    );
    this.registry.registerMetric(this.#latency as unknown as Metric);
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
    // The series is looked up by route, method and status (closed sets): no label object is
    // built or hashed per request, as prom-client's histogram (and its labelled child) does.
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
    let series = byStatus.get(status);
    if (series === undefined) {
      series = this.#latency.series({ method, route, status: String(status) });
      byStatus.set(status, series);
    }
    series.observe(seconds);
  }
}

/** One label set of a `LatencyHistogram`: counts per bucket (not cumulative), sum and count. */
class LatencySeries {
  readonly #bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number)++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram that the registry renders like prom-client's own (the same
 * `_bucket`/`_sum`/`_count` lines and labels), without prom-client's per-observation work.
 */
class LatencyHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  #series: LatencySeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {}

  series(labels: Readonly<Record<string, string>>): LatencySeries {
    const series = new LatencySeries(labels, this.bounds);
    this.#series.push(series);
    return series;
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.#series) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += series.counts[i] ?? 0;
        values.push({ labels: { le, ...series.labels }, value: cumulative, metricName: bucket });
      });
      values.push(
        { labels: { le: "+Inf", ...series.labels }, value: series.count, metricName: bucket },
        { labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` },
        { labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const series of this.#series) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
