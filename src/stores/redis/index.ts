/**
 * The Redis store's entry point (`tessera/redis`): importing it loads node-redis, which
 * nothing else in Tessera does.
 */
export { RedisStore, type RedisStoreOptions } from "./redis-store.js";
