import { randomUUID } from "node:crypto";
import { afterAll } from "vitest";
import { describeSessionStoreConformance } from "../conformance.js";
import { RedisStore } from "./redis-store.js";
import { deleteKeys, SHARED_REDIS_URL } from "./redis-test-support.js";

/** One prefix per run of this file; each test gets its own below it. */
const RUN = `tessera-test:${randomUUID()}:`;

describeSessionStoreConformance("RedisStore", async () => {
  const keyPrefix = `${RUN}${randomUUID()}:`;
  // The machine's Redis keeps nothing on disk: fine for these tests, refused in production.
  const open = () => RedisStore.open({ url: SHARED_REDIS_URL, keyPrefix, allowUnsafeRedis: true });
  return { store: await open(), reopen: open, cleanup: async () => deleteKeys(SHARED_REDIS_URL, keyPrefix) };
});

afterAll(async () => {
  await deleteKeys(SHARED_REDIS_URL, RUN);
});
