/**
 * Key names. Everything of one user shares the hash tag `{u:<id>}`, so every per-user flow
 * is one slot on Redis Cluster; deployment-wide keys (user registry, denylist, event log,
 * keys, security log, webhooks, nonces, counters) share `{d}`. Lookups that start from a
 * digest or an id the engine holds (`{s:<sessionId>}`, `{t:<tokenHash>}`,
 * `{r:<refreshHash>}`, `{l:<linkHash>}`) are single keys in their own slots whose value
 * names the user (and session); the script on the user's slot then re-checks the record.
 */

export class RedisKeys {
  readonly #prefix: string;

  constructor(prefix: string) {
    if (prefix.includes("{") || prefix.includes("}")) {
      throw new TypeError("keyPrefix must not contain braces: they would change the hash tags");
    }
    this.#prefix = prefix;
  }

  get pattern(): string {
    return `${escapeGlob(this.#prefix)}*`;
  }

  /** The base every key of the user's slot starts with. */
  user(userId: number): string {
    return `${this.#prefix}{u:${userId}}:`;
  }

  userKeys(userId: number) {
    const base = this.user(userId);
    return {
      base,
      user: `${base}user`,
      gen: `${base}gen`,
      idx: `${base}idx`,
      links: `${base}links`,
      session: (sessionId: string) => `${base}s:${sessionId}`,
      refreshSet: (sessionId: string) => `${base}rs:${sessionId}`,
      refresh: (hash: string) => `${base}r:${hash}`,
      link: (hash: string) => `${base}l:${hash}`,
      jti: (jti: string) => `${base}jti:${jti}`,
    };
  }

  sessionIndex = (sessionId: string): string => `${this.#prefix}{s:${sessionId}}`;
  tokenIndex = (hash: string): string => `${this.#prefix}{t:${hash}}`;
  refreshIndex = (hash: string): string => `${this.#prefix}{r:${hash}}`;
  linkIndex = (hash: string): string => `${this.#prefix}{l:${hash}}`;

  /** A deployment-wide key, all in the `{d}` slot. */
  d(name: string): string {
    return `${this.#prefix}{d}:${name}`;
  }

  get dBase(): string {
    return `${this.#prefix}{d}:`;
  }

  /** Pattern of every user's session index, for purging. */
  get userIndexPattern(): string {
    return `${escapeGlob(this.#prefix)}{u:*}:idx`;
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
