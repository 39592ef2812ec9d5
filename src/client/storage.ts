/**
 * Where token mode keeps its pair. The default is memory: nothing survives a reload and no
 * other script can read the pair out of `localStorage` after an XSS. An application that
 * wants the session to survive a reload, or to start in a second tab without a login, passes
 * `webStorage(localStorage)` (or its own adapter: a mobile keychain, a file in a Node tool).
 * Tabs always share new pairs over BroadcastChannel, whatever the storage.
 */
import type { TokenPair } from "./types.js";

export interface TokenStorage {
  get(): TokenPair | null | Promise<TokenPair | null>;
  /** `null` removes the pair (sign-out). */
  set(pair: TokenPair | null): void | Promise<void>;
}

export function memoryStorage(initial: TokenPair | null = null): TokenStorage {
  let pair = initial;
  return {
    get: () => pair,
    set: (next) => {
      pair = next;
    },
  };
}

/** The few methods of the Web Storage API the adapter needs (`localStorage`, `sessionStorage`). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A pair kept as JSON under `key`; a value that does not parse reads as no pair. */
export function webStorage(storage: WebStorageLike, key = "tessera.tokens"): TokenStorage {
  return {
    get() {
      const text = storage.getItem(key);
      if (text === null) return null;
      try {
        const pair = JSON.parse(text) as TokenPair;
        return typeof pair?.refreshToken === "string" ? pair : null;
      } catch {
        return null;
      }
    },
    set(pair) {
      if (pair === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(pair));
    },
  };
}
