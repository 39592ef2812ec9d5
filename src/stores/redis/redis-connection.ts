/**
 * The only module that talks to node-redis. The store sees four things: send a command,
 * run a script, scan keys, and open a dedicated connection for the event feed — the same
 * on one Redis and on Redis Cluster, so swapping the client (ioredis) would touch this file
 * alone.
 *
 * Scripts go by EVALSHA and fall back to EVAL (which caches the script) when the server
 * does not know them yet, after a restart or on a new cluster node. Every command carries
 * the store's timeout, and commands are refused at once while disconnected (no offline
 * queue), so a dead Redis gives a fast rejection, which the engine answers `unavailable`.
 */

import { createClient, createCluster, type RedisClientType, type RedisClusterType } from "redis";
import type { Script } from "./redis-scripts.js";

/**
 * A reply as node-redis gives it. It maps some replies to objects by command (HGETALL,
 * CONFIG GET, XREAD, XINFO), hence the record case.
 */
export type Reply = null | number | string | Reply[] | { readonly [key: string]: Reply };

export interface RedisConnectionOptions {
  readonly url: string;
  readonly cluster?: { readonly rootNodes: readonly string[] };
  readonly commandTimeoutMs: number;
}

/** The URL as an operator may see it: without its password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable Redis URL>";
  }
}

type Client = RedisClientType;
type Cluster = RedisClusterType;

export class RedisConnection {
  readonly isCluster: boolean;
  #client: Client | null;
  readonly #makeClient: () => Client;
  readonly #cluster: Cluster | null;
  readonly #timeout: number;
  readonly #options: RedisConnectionOptions;
  #opened = false;
  /** The last connection error, for the messages of `open`. */
  lastError: Error | null = null;

  private constructor(options: RedisConnectionOptions) {
    this.#options = options;
    this.#timeout = options.commandTimeoutMs;
    const socket = {
      connectTimeout: options.commandTimeoutMs,
      // While opening, the first failure is the answer; once open, keep retrying briefly.
      reconnectStrategy: (retries: number, cause: Error) =>
        this.#opened ? Math.min(50 * 2 ** retries, 500) : cause,
    };
    const common = { disableOfflineQueue: true, commandOptions: { timeout: options.commandTimeoutMs } };
    this.#makeClient = () => {
      const client = createClient({ url: options.url, socket, ...common }) as unknown as Client;
      client.on("error", (error: Error) => {
        this.lastError = error;
      });
      return client;
    };
    if (options.cluster === undefined) {
      this.isCluster = false;
      this.#cluster = null;
      this.#client = this.#makeClient();
    } else {
      this.isCluster = true;
      this.#client = null;
      this.#cluster = createCluster({
        rootNodes: options.cluster.rootNodes.map((url) => ({ url })),
        defaults: { socket, ...common },
      }) as unknown as Cluster;
      this.#cluster.on("error", (error: Error) => {
        this.lastError = error;
      });
    }
  }

  static async open(options: RedisConnectionOptions): Promise<RedisConnection> {
    const connection = new RedisConnection(options);
    const connecting = connection.#client?.connect() ?? connection.#cluster?.connect();
    try {
      await withTimeout(connecting ?? Promise.resolve(), options.commandTimeoutMs * 2);
    } catch (error) {
      connection.close();
      throw error;
    }
    connection.#opened = true;
    return connection;
  }

  /** Sends one command to the node owning `key` (any node when undefined). */
  async send(key: string | undefined, args: readonly string[]): Promise<Reply> {
    const client = this.#client;
    if (client === null) {
      return withTimeout((this.#cluster as Cluster).sendCommand(key, false, [...args]), this.#timeout);
    }
    try {
      return await withTimeout(client.sendCommand([...args]), this.#timeout);
    } catch (error) {
      if (error instanceof CommandTimeoutError && this.#opened) this.#replace(client);
      throw error;
    }
  }

  /**
   * A command that timed out stays in node-redis's reply queue; if its reply never comes
   * (a black-holed connection), later replies would be matched to the wrong commands. So a
   * timeout replaces the connection, which rejects everything still waiting on it.
   */
  #replace(stale: Client): void {
    if (this.#client !== stale) return;
    stale.destroy();
    const fresh = this.#makeClient();
    this.#client = fresh;
    // A handshake through a black hole never finishes either: try again until one does.
    withTimeout(fresh.connect(), this.#timeout).catch(() => {
      if (this.#opened) this.#replace(fresh);
    });
  }

  /** Runs a script on the node owning its first key. */
  async run(script: Script, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send(keys[0], ["EVALSHA", script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await this.send(keys[0], ["EVAL", script.source, ...tail]);
    }
  }

  /** Every key matching `pattern`, on every master. SCAN, never KEYS. */
  async *scan(pattern: string): AsyncGenerator<string> {
    const clients: Client[] = [];
    if (this.#client !== null) clients.push(this.#client);
    else {
      const cluster = this.#cluster as Cluster;
      for (const master of cluster.masters) clients.push((await cluster.nodeClient(master)) as Client);
    }
    for (const client of clients) {
      let cursor = "0";
      do {
        const reply = (await client.sendCommand(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"], {
          timeout: this.#timeout,
        })) as [string, string[]];
        cursor = reply[0];
        for (const key of reply[1]) yield key;
      } while (cursor !== "0");
    }
  }

  /**
   * A new connection of its own for blocking reads (XREAD BLOCK must not hold up the
   * store's commands), to the node owning `key`. Connects once; the feed reconnects itself.
   */
  async dedicated(key: string): Promise<DedicatedConnection> {
    let url = this.#options.url;
    if (this.#cluster !== null) {
      const reply = (await this.send(key, ["CLUSTER", "KEYSLOT", key])) as number;
      const master = this.#cluster.getSlotMaster(reply);
      const base = new URL(this.#options.cluster?.rootNodes[0] ?? this.#options.url);
      base.hostname = master.host;
      base.port = String(master.port);
      url = base.toString();
    }
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: this.#timeout, reconnectStrategy: false },
    }) as unknown as Client;
    client.on("error", () => {});
    try {
      await withTimeout(client.connect(), this.#timeout);
    } catch (error) {
      client.destroy();
      throw error;
    }
    return {
      send: (args, timeout) => withTimeout(client.sendCommand([...args]), timeout),
      close: () => {
        client.destroy();
      },
    };
  }

  close(): void {
    this.#opened = false;
    try {
      if (this.#client !== null) this.#client.destroy();
      else this.#cluster?.destroy();
    } catch {
      // Already closed.
    }
  }
}

/** A command Redis did not answer in time; the store's call rejects and never hangs. */
export class CommandTimeoutError extends Error {
  override readonly name = "CommandTimeoutError";
}

/**
 * node-redis's own command timeout covers only the wait before a command is written; once
 * written, a command whose reply never comes waits forever. This bounds the whole call.
 */
function withTimeout(pending: Promise<unknown>, ms: number): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandTimeoutError(`Redis did not answer within ${ms} ms`)), ms);
  });
  // The command itself may still reject later (its connection is replaced); nobody waits for it.
  pending.catch(() => {});
  return Promise.race([pending as Promise<Reply>, expired]).finally(() => clearTimeout(timer));
}

export interface DedicatedConnection {
  send(args: readonly string[], timeout: number): Promise<Reply>;
  close(): void;
}
