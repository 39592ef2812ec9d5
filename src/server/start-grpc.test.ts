import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { call, sessionClient } from "../../test/grpc-kit.js";
import { startTestServer, tempDir } from "../../test/server-kit.js";
import { ConfigError, loadConfig } from "./config.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("gRPC settings of tessera serve", () => {
  it("TLS needs both the certificate and the key file", () => {
    for (const env of [
      { TESSERA_GRPC_TLS_CERT_FILE: "cert.pem" },
      { TESSERA_GRPC_TLS_KEY_FILE: "key.pem" },
    ]) {
      expect(() => loadConfig({ env, cwd: "/" })).toThrow(ConfigError);
    }
    const config = loadConfig({ env: { TESSERA_GRPC: "off", TESSERA_GRPC_PORT: "6000" }, cwd: "/" });
    expect(config).toMatchObject({
      grpc: false,
      grpcPort: 6000,
      grpcTlsCertFile: null,
      grpcTlsKeyFile: null,
    });
  });

  it("an unreadable TLS file stops start-up with a ConfigError naming the setting", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const missing = join(dir.path, "missing.pem");
    await expect(startTestServer({ grpcTlsCertFile: missing, grpcTlsKeyFile: missing })).rejects.toThrow(
      /grpcTlsCertFile/,
    );
  });

  // Node cannot make an X.509 certificate by itself.
  it.skipIf(!hasOpenssl())("serves gRPC over TLS from the configured files (needs openssl)", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const keyPath = join(dir.path, "key.pem");
    const certPath = join(dir.path, "cert.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        .concat(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
        .concat(["-keyout", keyPath, "-out", certPath]),
      { stdio: "ignore" },
    );
    const server = await startTestServer({ grpcTlsCertFile: certPath, grpcTlsKeyFile: keyPath });
    cleanups.push(() => server.stop());
    const client = sessionClient(server.grpc?.port ?? 0, credentials.createSsl(readFileSync(certPath)), {
      "grpc.ssl_target_name_override": "localhost",
    });
    cleanups.push(() => client.close());
    await server.tessera.register({ username: "tls-user", password: "secret123" });
    const created = await call(client, "CreateSession", {
      username: "tls-user",
      password: "secret123",
      device_uuid: "d",
    });
    expect(created.auth_token).toMatch(/^tss_/);
  });
});
