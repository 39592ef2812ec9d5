/**
 * What the Redis store's tests share: the machine's Redis, and removing a test's keys by
 * prefix with SCAN (never KEYS).
 */
import { createClient } from "redis";

export const SHARED_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = (await client.sendCommand([
        "SCAN",
        cursor,
        "MATCH",
        `${prefix}*`,
        "COUNT",
        "1000",
      ])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await client.sendCommand(["UNLINK", ...keys]);
    } while (cursor !== "0");
  } finally {
    client.destroy();
  }
}
