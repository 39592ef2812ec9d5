import { describe, expect, it } from "vitest";
import { FrameBucket, FrameRate } from "./frame-bucket.js";
import { GateRegistry } from "./gates.js";

describe("GateRegistry", () => {
  it("finds a registered gate by name and lists the names", () => {
    const gates = new GateRegistry();
    const handler = () => 1;
    gates.register("move", handler).register("chat", () => null);
    expect(gates.get("move")).toBe(handler);
    expect(gates.get("nope")).toBeUndefined();
    expect(gates.names()).toEqual(["move", "chat"]);
  });

  it("refuses a second gate with the same name", () => {
    const gates = new GateRegistry().register("move", () => 1);
    expect(() => gates.register("move", () => 2)).toThrow(TypeError);
  });

  it("refuses an empty or overlong name", () => {
    const gates = new GateRegistry();
    expect(() => gates.register("", () => 1)).toThrow(TypeError);
    expect(() => gates.register("x".repeat(129), () => 1)).toThrow(TypeError);
  });
});

describe("FrameBucket", () => {
  function bucket(perSecond: number, burst: number) {
    let now = 0;
    const b = new FrameBucket(new FrameRate({ perSecond, burst, now: () => now }));
    return {
      take: () => b.take(),
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it("accepts a burst, then refuses until it refills", () => {
    const b = bucket(10, 3);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual(["accept", "accept", "accept", "refuse"]);
    b.advance(100);
    expect(b.take()).toBe("accept");
    expect(b.take()).toBe("refuse");
  });

  it("calls it abuse when more frames are refused than the rate allows per second", () => {
    const b = bucket(2, 1);
    b.take();
    expect([b.take(), b.take()]).toEqual(["refuse", "refuse"]);
    expect(b.take()).toBe("abuse");
  });

  it("forgives refused frames once the bucket has refilled", () => {
    const b = bucket(2, 1);
    b.take();
    b.take();
    b.take();
    b.advance(1000);
    b.take();
    expect([b.take(), b.take()]).toEqual(["refuse", "refuse"]);
  });
});
