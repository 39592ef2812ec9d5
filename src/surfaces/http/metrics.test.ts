import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TesseraMetrics } from "./metrics.js";

/** The latency lines of a scrape. */
async function latencyLines(registry: Registry): Promise<string[]> {
  const text = await registry.metrics();
  return text.split("\n").filter((line) => line.startsWith("tessera_http_request_duration_seconds"));
}

describe("the request latency histogram", () => {
  it("renders exactly what prom-client's Histogram renders for the same observations", async () => {
    const metrics = new TesseraMetrics();
    const reference = new Registry();
    const histogram = new Histogram({
      name: "tessera_http_request_duration_seconds",
      help: "HTTP request latency, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [reference],
    });
    const observations: [string, string, number, number][] = [
      ["GET", "/auth/session", 200, 0.0004],
      ["GET", "/auth/session", 200, 0.0005],
      ["GET", "/auth/session", 200, 0.003],
      ["GET", "/auth/session", 401, 0.02],
      ["POST", "/auth/login", 200, 0.3],
      ["POST", "/auth/login", 200, 7],
      ["GET", '/a"b\\c', 404, 0.001],
    ];
    for (const [method, route, status, seconds] of observations) {
      metrics.request(method, route, status, seconds);
      histogram.observe({ method, route, status: String(status) }, seconds);
    }
    const ours = await latencyLines(metrics.registry);
    expect(ours.length).toBeGreaterThan(3);
    expect(ours).toEqual(await latencyLines(reference));
    expect(await metrics.registry.getMetricsAsJSON()).toContainEqual(
      expect.objectContaining({ name: "tessera_http_request_duration_seconds", type: "histogram" }),
    );
  });

  it("starts every series again from zero on reset", async () => {
    const metrics = new TesseraMetrics();
    metrics.request("GET", "/livez", 200, 0.001);
    metrics.registry.resetMetrics();
    metrics.request("GET", "/livez", 200, 0.002);
    const lines = await latencyLines(metrics.registry);
    expect(lines).toContain(
      'tessera_http_request_duration_seconds_count{method="GET",route="/livez",status="200"} 1',
    );
    expect(lines).toContain(
      'tessera_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/livez",status="200"} 0',
    );
  });
});
