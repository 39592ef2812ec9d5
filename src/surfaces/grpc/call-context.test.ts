import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { bearerToken, peerAddress, requestMetadata } from "./call-context.js";

function withAuthorization(value: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", value);
  return metadata;
}

describe("call context", () => {
  it("peerAddress keeps the address of grpc-js peer strings and drops the port", () => {
    expect(peerAddress("127.0.0.1:50123")).toBe("127.0.0.1");
    expect(peerAddress("ipv4:10.1.2.3:443")).toBe("10.1.2.3");
    expect(peerAddress("[::1]:50123")).toBe("::1");
    expect(peerAddress("ipv6:[2001:db8::7]:8080")).toBe("2001:db8::7");
    expect(peerAddress("unix:/tmp/sock")).toBeNull();
    expect(peerAddress("unknown")).toBeNull();
  });

  it("bearerToken reads `Bearer <token>` in any case of the scheme", () => {
    expect(bearerToken(withAuthorization("Bearer tss_abc"))).toBe("tss_abc");
    expect(bearerToken(withAuthorization("bearer   tss_abc "))).toBe("tss_abc");
  });

  it("bearerToken refuses missing or other authorization as token_invalid, without echoing it", () => {
    for (const metadata of [
      new Metadata(),
      withAuthorization("Basic dXNlcjpwYXNz"),
      withAuthorization("Bearer a b"),
    ]) {
      let caught: unknown;
      try {
        bearerToken(metadata);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: "token_invalid" });
      expect(String((caught as Error).message)).not.toMatch(/dXNlcjpwYXNz/);
    }
  });

  it("requestMetadata caps a huge user agent instead of storing it whole", () => {
    const metadata = new Metadata();
    metadata.set("user-agent", "x".repeat(10_000));
    const result = requestMetadata({ metadata, getPeer: () => "127.0.0.1:1" });
    expect(result.userAgent).toHaveLength(512);
    expect(result.ipAddress).toBe("127.0.0.1");
  });
});
