/**
 * `tessera-sessions/redis`: the Redis store (node-redis), kept out of the package root so that
 * importing `tessera` loads no Redis client.
 */
export { RedisStore, type RedisStoreOptions } from "../stores/redis/index.js";
