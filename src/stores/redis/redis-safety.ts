/**
 * The start-up check: Tessera refuses a Redis that may drop revocations. Revocations,
 * denylist entries and spent refresh tokens are keys with a TTL, exactly what a
 * `volatile-*` or `allkeys-*` eviction policy drops under memory pressure; and a Redis
 * without persistence forgets them on restart (Keycloak #31296 lost revoked tokens this way).
 */

import type { RedisConnection, Reply } from "./redis-connection.js";

/** The reason Redis is unsafe, or null when it is safe. */
export async function unsafeRedisReason(connection: RedisConnection): Promise<string | null> {
  let policy: string;
  let appendonly: string;
  let save: string;
  try {
    policy = await configValue(connection, "maxmemory-policy");
    appendonly = await configValue(connection, "appendonly");
    save = await configValue(connection, "save");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return (
      `Tessera cannot check its eviction and persistence settings (CONFIG GET was refused: ${reason}); ` +
      "allow CONFIG GET for Tessera's user, or confirm the settings yourself and start with"
    );
  }
  const problems: string[] = [];
  if (policy !== "noeviction") {
    problems.push(
      `maxmemory-policy is ${policy}, which may evict revocations under memory pressure ` +
        '(set "maxmemory-policy noeviction" in redis.conf)',
    );
  }
  if (appendonly !== "yes" && save.trim() === "") {
    problems.push(
      'persistence is off, so a restart forgets every revocation (set "appendonly yes" in redis.conf)',
    );
  }
  return problems.length === 0 ? null : `${problems.join("; ")}; for development only, start with`;
}

async function configValue(connection: RedisConnection, name: string): Promise<string> {
  const reply: Reply = await connection.send(undefined, ["CONFIG", "GET", name]);
  const value = Array.isArray(reply)
    ? reply[1]
    : reply !== null && typeof reply === "object"
      ? reply[name]
      : null;
  if (typeof value !== "string") throw new Error(`no value for ${name}`);
  return value;
}
