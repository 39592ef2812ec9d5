/**
 * Three `tessera serve` processes on one Redis (a private, append-only redis-server this
 * file starts), each reaching it through its own TCP proxy: revocations travel through the
 * Redis Stream log, and each node's lease holds only while its follower confirms the log.
 */
import { describeMultiNode } from "./multi-node.js";
import { startRedis } from "./processes.js";

describeMultiNode("one Redis", async () => {
  const redis = await startRedis();
  return {
    port: redis.port,
    // The private server is append-only with noeviction, so no opt-out is needed.
    nodeArgs: (proxyPort) => ["--store", "redis", "--redis-url", `redis://127.0.0.1:${proxyPort}`],
    restart: (options) => redis.restart(options),
    kill: () => redis.kill(),
    close: () => redis.stop(),
  };
});
