import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cli } from "../../test/cli-kit.js";
import { tempDir } from "../../test/server-kit.js";
import { SETTINGS } from "../server/config.js";
import type { RunningServer } from "../server/start.js";

let dir: { path: string; remove(): void };
let env: Record<string, string>;
beforeEach(() => {
  dir = tempDir();
  env = { TESSERA_DATA_DIR: dir.path, TESSERA_LOG_LEVEL: "silent" };
});
afterEach(() => dir.remove());

describe("tessera users", () => {
  it("takes the store flags serve takes, and names what is missing in one line", async () => {
    const missing = await cli(["users", "list", "--store", "redis"], { env });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^tessera: store redis needs a Redis URL: set --redis-url/m);
    const listed = await cli(["users", "list", "--json", "--database", join(dir.path, "other.db")], { env });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([]);
  });

  it("adds a user with the password from stdin and lists it", async () => {
    const added = await cli(["users", "add", "hero", "--password-stdin"], { env, stdin: "secret123\n" });
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/^Created user hero \(id 1, uuid [0-9a-f-]{36}\)\.$/m);
    const listed = await cli(["users", "list", "--json"], { env });
    const users = JSON.parse(listed.out) as { username: string; password: string }[];
    expect(users.map((user) => user.username)).toEqual(["hero"]);
    expect(users[0]?.password).toBe("yes");
    expect(listed.out).not.toContain("argon2");
  });

  it("takes TESSERA_PASSWORD, and refuses to guess when there is no password source", async () => {
    expect(
      (await cli(["users", "add", "env-user"], { env: { ...env, TESSERA_PASSWORD: "secret123" } })).code,
    ).toBe(0);
    const none = await cli(["users", "add", "nobody"], { env });
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/--password-stdin/);
  });

  it("reports a taken name or a weak password as one friendly line with exit code 1", async () => {
    await cli(["users", "add", "hero", "--password-stdin"], { env, stdin: "secret123" });
    const taken = await cli(["users", "add", "HERO", "--password-stdin"], { env, stdin: "secret123" });
    expect(taken.code).toBe(1);
    expect(taken.err.trim()).toBe("tessera: That username is already taken.");
    const weak = await cli(["users", "add", "other", "--password-stdin"], { env, stdin: "short" });
    expect(weak.code).toBe(1);
    expect(weak.err).toMatch(/at least 8 characters/);
    expect(weak.err).not.toContain("short");
  });

  it("lists nothing politely on an empty database", async () => {
    const listed = await cli(["users", "list", "--data-dir", join(dir.path, "elsewhere")], { env: {} });
    expect(listed.code).toBe(0);
    expect(listed.out.trim()).toBe("No users yet.");
  });
});

/** The `alg` and `kid` of a fresh login's access JWT on a running server. */
async function signedWith(url: string, username = "hero"): Promise<{ alg: string; kid: string }> {
  const response = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: "secret123" }),
  });
  const { accessToken } = (await response.json()) as { accessToken: string };
  return JSON.parse(Buffer.from(accessToken.split(".")[0] ?? "", "base64url").toString()) as {
    alg: string;
    kid: string;
  };
}

describe("tessera keys", () => {
  it.each([
    "ES256",
    "RS256",
  ])("no management command touches the keys of a server started with --jwt-algorithm %s", async (algorithm) => {
    await cli(["users", "add", "hero", "--password-stdin"], { env, stdin: "secret123" });
    let server: RunningServer | undefined;
    const serveEnv = { ...env, TESSERA_JWT_ALGORITHM: algorithm };
    await cli(["serve", "--port", "0"], {
      env: serveEnv,
      serve: { onStarted: (started) => (server = started) },
    });
    if (server === undefined) throw new Error("server did not start");
    try {
      const before = await signedWith(server.urls.http);
      expect(before.alg).toBe(algorithm);
      const keysBefore = (await cli(["keys", "list", "--json"], { env })).out;
      // Without TESSERA_JWT_ALGORITHM, as an operator would run them.
      for (const args of [
        ["users", "list"],
        ["sessions", "list"],
        ["users", "add", "other", "--password-stdin"],
        ["keys", "list"],
      ]) {
        const ran = await cli(args, { env, stdin: "secret123" });
        expect(ran.code, args.join(" ")).toBe(0);
      }
      expect((await cli(["keys", "list", "--json"], { env })).out).toBe(keysBefore);
      expect(await signedWith(server.urls.http)).toEqual(before);
      // Asked: `keys rotate` keeps the active key's algorithm unless told otherwise.
      await cli(["keys", "rotate"], { env });
      const rotated = JSON.parse((await cli(["keys", "list", "--json"], { env })).out) as {
        alg: string;
        status: string;
      }[];
      expect(rotated.filter((key) => key.status === "active").map((key) => key.alg)).toEqual([algorithm]);
      await cli(["keys", "rotate", "--algorithm", "EdDSA"], { env });
      const switched = JSON.parse((await cli(["keys", "list", "--json"], { env })).out) as {
        alg: string;
        status: string;
      }[];
      expect(switched.filter((key) => key.status === "active").map((key) => key.alg)).toEqual(["EdDSA"]);
    } finally {
      await server.close();
    }
  });

  it("a server started without --jwt-algorithm keeps the algorithm of the stored active key", async () => {
    await cli(["users", "add", "hero", "--password-stdin"], { env, stdin: "secret123" });
    await cli(["keys", "rotate", "--algorithm", "ES256"], { env });
    let server: RunningServer | undefined;
    await cli(["serve", "--port", "0"], { env, serve: { onStarted: (started) => (server = started) } });
    if (server === undefined) throw new Error("server did not start");
    try {
      expect((await signedWith(server.urls.http)).alg).toBe("ES256");
    } finally {
      await server.close();
    }
  });

  it("lists the stored key, rotates to a new one and keeps the old one listed as retired", async () => {
    expect((await cli(["keys", "list"], { env })).out.trim()).toBe("No keys.");
    await cli(["keys", "rotate"], { env });
    const first = JSON.parse((await cli(["keys", "list", "--json"], { env })).out) as {
      kid: string;
      status: string;
    }[];
    expect(first).toHaveLength(1);
    expect(first[0]?.status).toBe("active");
    const rotated = await cli(["keys", "rotate"], { env });
    expect(rotated.code).toBe(0);
    const kid = /New active signing key (\S+)\./.exec(rotated.out)?.[1];
    const after = JSON.parse((await cli(["keys", "list", "--json"], { env })).out) as {
      kid: string;
      status: string;
    }[];
    expect(after.find((key) => key.kid === kid)?.status).toBe("active");
    expect(after.find((key) => key.kid === first[0]?.kid)?.status).toBe("retired");
  });

  it("a rotation from the CLI reaches a running server: it signs with the new key at once", async () => {
    await cli(["users", "add", "hero", "--password-stdin"], { env, stdin: "secret123" });
    let server: RunningServer | undefined;
    await cli(["serve", "--port", "0"], { env, serve: { onStarted: (started) => (server = started) } });
    if (server === undefined) throw new Error("server did not start");
    const url = server.urls.http;
    const kidOfNewLogin = async (): Promise<string> => {
      const response = await fetch(`${url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "hero", password: "secret123" }),
      });
      const { accessToken } = (await response.json()) as { accessToken: string };
      const header = JSON.parse(Buffer.from(accessToken.split(".")[0] ?? "", "base64url").toString());
      return (header as { kid: string }).kid;
    };
    try {
      const before = await kidOfNewLogin();
      const rotated = await cli(["keys", "rotate"], { env });
      const kid = /New active signing key (\S+)\./.exec(rotated.out)?.[1];
      expect(kid).toBeDefined();
      expect(kid).not.toBe(before);
      // The server hears of the rotation through the store's event feed (polled).
      let signedWith = before;
      for (let i = 0; i < 100 && signedWith !== kid; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        signedWith = await kidOfNewLogin();
      }
      expect(signedWith).toBe(kid);
      const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      expect(jwks.keys.map((key) => key.kid).sort()).toEqual([before, kid].sort());
    } finally {
      await server.close();
    }
  });

  it("generates a PEM private key or an HMAC secret without touching a database", async () => {
    const ed = await cli(["keys", "generate"], { env: {} });
    expect(ed.out).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const hs = await cli(["keys", "generate", "--algorithm", "HS256"], { env: {} });
    expect(Buffer.from(hs.out.trim(), "base64url").length).toBeGreaterThanOrEqual(32);
    const file = join(dir.path, "key.pem");
    const written = await cli(["keys", "generate", "-a", "ES256", "--out", file], { env: {}, cwd: dir.path });
    expect(written.out).toContain("--jwt-private-key-file");
    expect(readFileSync(file, "utf8")).toMatch(/BEGIN PRIVATE KEY/);
    const bad = await cli(["keys", "generate", "-a", "none"], { env: {} });
    expect(bad.code).toBe(2);
  });

  it("refuses to start with a key that cannot sign, saying why", async () => {
    const file = join(dir.path, "weak.pem");
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    writeFileSync(file, String(weak.privateKey.export({ type: "pkcs8", format: "pem" })));
    const run = await cli(["serve", "--port", "0"], {
      env: { ...env, TESSERA_JWT_ALGORITHM: "RS256", TESSERA_JWT_PRIVATE_KEY_FILE: file },
    });
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/cannot be used: an RSA key needs at least 2048 bits, this one has 1024/);
    expect(run.err).not.toContain("PRIVATE KEY");
  });

  it("a generated key file serves as the configured signing key", async () => {
    const file = join(dir.path, "key.pem");
    await cli(["keys", "generate", "--out", file], { env: {}, cwd: dir.path });
    let server: RunningServer | undefined;
    const run = await cli(["serve", "--port", "0"], {
      env: { ...env, TESSERA_JWT_PRIVATE_KEY_FILE: file },
      serve: { onStarted: (started) => (server = started) },
    });
    expect(run.code).toBe("serving");
    try {
      expect(server?.tessera.listKeys()).toHaveLength(1);
      const rotate = await cli(["keys", "rotate"], { env: { ...env, TESSERA_JWT_PRIVATE_KEY_FILE: file } });
      expect(rotate.code).toBe(1);
      expect(rotate.err).toMatch(/comes from configuration/);
    } finally {
      await server?.close();
    }
  });
});

describe("tessera sessions", () => {
  it("lists live sessions, and a revocation from the CLI reaches a running server", async () => {
    await cli(["users", "add", "hero", "--password-stdin"], { env, stdin: "secret123" });
    let server: RunningServer | undefined;
    await cli(["serve", "--port", "0"], { env, serve: { onStarted: (started) => (server = started) } });
    if (server === undefined) throw new Error("server did not start");
    try {
      const login = await fetch(`${server.urls.http}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "hero", password: "secret123", deviceId: "laptop" }),
      });
      const pair = (await login.json()) as { accessToken: string; sessionId: string };
      const listed = await cli(["sessions", "list", "--user", "hero"], { env });
      expect(listed.out).toContain(pair.sessionId);
      expect(listed.out).toContain("laptop");

      // The server learns of it through the store's event feed: wait for that event, then
      // the JWT is refused.
      const running = server;
      const ended = new Promise<void>((resolve) => {
        running.tessera.subscribe((event) => {
          if (event.type === "session_ended" && event.sessionId === pair.sessionId) resolve();
        });
      });
      const revoked = await cli(["sessions", "revoke", pair.sessionId], { env });
      expect(revoked.code).toBe(0);
      await ended;
      const response = await fetch(`${server.urls.http}/auth/session`, {
        headers: { authorization: `Bearer ${pair.accessToken}` },
      });
      expect(response.status).toBe(401);
      expect((await cli(["sessions", "list", "--json"], { env })).out.trim()).toBe("[]");
    } finally {
      await server.close();
    }
  });

  it("answers an unknown session id or user with exit code 1", async () => {
    const revoke = await cli(["sessions", "revoke", "nope"], { env });
    expect(revoke.code).toBe(1);
    expect(revoke.err.trim()).toBe("tessera: No such session.");
    const list = await cli(["sessions", "list", "--user", "ghost"], { env });
    expect(list.code).toBe(1);
  });
});

describe("tessera serve", () => {
  it("--help documents every flag and environment variable", async () => {
    const help = await cli(["serve", "--help"]);
    expect(help.code).toBe(0);
    for (const setting of SETTINGS) {
      const long = /--[a-z-]+/.exec(setting.flag)?.[0] ?? "";
      expect(help.out).toContain(long);
      for (const name of setting.env) expect(help.out).toContain(name);
    }
    expect(help.out).toMatch(/--sqlite-lock-timeout <ms>\s+sqlite: a write waiting this long/);
    expect(help.out).toContain("TESSERA_SQLITE_LOCK_TIMEOUT");
  });

  it("refuses a bad setting with a clear message and exit code 1", async () => {
    const run = await cli(["serve"], { env: { ...env, PORT: "http" } });
    expect(run.code).toBe(1);
    expect(run.err).toContain("Invalid port (from PORT)");
  });

  it("an unknown command or option is a usage error (exit 2)", async () => {
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["users", "list", "--bogus"], { env })).code).toBe(2);
  });
});
