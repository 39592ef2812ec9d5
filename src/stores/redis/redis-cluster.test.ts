/**
 * The Redis store on a real three-master Redis Cluster that this file starts locally: the
 * whole conformance suite (every per-user flow is one slot; deployment-wide keys share
 * `{d}`), then a master killed and restarted under the store.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeSessionStoreConformance } from "../conformance.js";
import { RedisStore } from "./redis-store.js";
import { freePort, until } from "./redis-test-support.js";

const clusterCli = spawnSync("redis-cli", ["--cluster", "help"], { encoding: "utf8" });
// `redis-cli --cluster help` prints its commands and exits 1; what matters is that it knows `create`.
const available = `${clusterCli.stdout ?? ""}${clusterCli.stderr ?? ""}`.includes("create");

interface Node {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess | null;
}

async function launch(node: Node): Promise<void> {
  const child = spawn(
    "redis-server",
    [
      ...["--port", String(node.port), "--bind", "127.0.0.1", "--dir", node.dir],
      ...["--cluster-enabled", "yes", "--cluster-config-file", join(node.dir, "nodes.conf")],
      ...["--cluster-node-timeout", "2000", "--appendonly", "yes", "--save", ""],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  node.child = child;
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-400)}`)));
  });
}

async function kill(node: Node): Promise<void> {
  const child = node.child;
  node.child = null;
  if (child === null || child.exitCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

function clusterOk(port: number): boolean {
  const info = spawnSync("redis-cli", ["-p", String(port), "cluster", "info"], { encoding: "utf8" });
  return info.stdout.includes("cluster_state:ok");
}

const nodes: Node[] = [];

describe.skipIf(!available)("RedisStore on a three-master Redis Cluster", () => {
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const node: Node = {
        port: await freePort(),
        dir: mkdtempSync(join(tmpdir(), "tessera-cluster-")),
        child: null,
      };
      nodes.push(node);
      await launch(node);
    }
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-yes"],
      { encoding: "utf8" },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await until(() => nodes.every((n) => clusterOk(n.port)), "the cluster is ok", 20_000);
  }, 30_000);

  afterAll(async () => {
    for (const node of nodes.splice(0)) {
      await kill(node);
      rmSync(node.dir, { recursive: true, force: true });
    }
  });

  const open = () =>
    RedisStore.open({
      url: `redis://127.0.0.1:${nodes[0]?.port}`,
      cluster: { rootNodes: nodes.map((n) => `redis://127.0.0.1:${n.port}`) },
      keyPrefix: `t:${randomUUID()}:`,
    });

  describeSessionStoreConformance("RedisStore (cluster)", async () => {
    const keyPrefix = `t:${randomUUID()}:`;
    const reopen = () =>
      RedisStore.open({
        url: `redis://127.0.0.1:${nodes[0]?.port}`,
        cluster: { rootNodes: nodes.map((n) => `redis://127.0.0.1:${n.port}`) },
        keyPrefix,
      });
    // Each node is its own private server, removed after the file: no per-test cleanup needed.
    return { store: await reopen(), reopen, cleanup: async () => {} };
  });

  it("a master killed and restarted keeps its acknowledged sessions, and the store carries on", async () => {
    const store = await open();
    try {
      const now = Date.now();
      const user = await store.createUser({
        uuid: randomUUID(),
        username: "Ada",
        usernameKey: `ada-${randomUUID()}`,
        passwordHash: null,
        createdAt: now,
      });
      if (user === null) throw new Error("no user");
      const id = randomUUID();
      await store.createSession({
        session: {
          id,
          userId: user.id,
          deviceId: null,
          deviceName: null,
          createdAt: now,
          lastSeenAt: now,
          expiresAt: now + 60_000,
          maxExpiresAt: now + 120_000,
          authenticatedAt: now,
          authMethods: ["pwd"],
          tokenType: "jwt",
          metadata: { userAgent: null, ipAddress: null },
          data: null,
          sessionTokenHash: null,
        },
        refreshToken: { hash: randomUUID(), sessionId: id, createdAt: now, expiresAt: now + 60_000 },
      });
      // The master that holds this user's slot.
      const slot = Number(
        spawnSync("redis-cli", ["-p", String(nodes[0]?.port), "cluster", "keyslot", `{u:${user.id}}`], {
          encoding: "utf8",
        }).stdout.trim(),
      );
      const owner = nodes.find((n) => {
        const slots = spawnSync("redis-cli", ["-p", String(n.port), "cluster", "nodes"], { encoding: "utf8" })
          .stdout.split("\n")
          .find((line) => line.includes("myself"));
        return (slots ?? "")
          .split(" ")
          .slice(8)
          .some((range) => {
            const [from, to] = range.split("-").map(Number);
            return from !== undefined && slot >= from && slot <= (to ?? from);
          });
      });
      if (owner === undefined) throw new Error("no owner for the slot");
      await kill(owner);
      await launch(owner);
      await until(() => nodes.every((n) => clusterOk(n.port)), "the cluster is ok again", 20_000);
      await until(
        async () => (await store.getSession(id).catch(() => null))?.id === id,
        "the session reads back",
      );
      expect((await store.revokeSessions([id], "logout", now, now + 60_000)).map((s) => s.id)).toEqual([id]);
    } finally {
      await store.close();
    }
  }, 40_000);
});
