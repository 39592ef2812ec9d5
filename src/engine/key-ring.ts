/**
 * The signing keys in use: the active key signs, every key still inside its verification
 * window verifies, and the public ones are served as the JWKS.
 *
 * Keys are generated on first start and persisted in the store, unless the operator
 * configured a PEM key or an HMAC secret (those are never stored). Rotation makes a new
 * active key and keeps the old one verifiable (and in the JWKS) until every token it
 * signed has expired: retirement time + access-token lifetime + clock skew.
 */
import type { JWK } from "jose";
import { TesseraError } from "../errors.js";
import type { SessionStore } from "../stores/session-store.js";
import { checkSigningKey } from "../tokens/key-check.js";
import {
  deserializeSigningKey,
  generateSigningKey,
  keyFromPem,
  keyFromSecret,
  type SigningAlgorithm,
  type SigningKey,
} from "../tokens/keys.js";
import type { JwtOptions } from "./options.js";

/** Unknown `kid`s trigger a reload from the store (another node may have rotated), at most this often. */
const RELOAD_INTERVAL_MS = 1000;

export class KeyRing {
  #keys: SigningKey[];
  #lastReload = 0;

  private constructor(
    keys: SigningKey[],
    private readonly store: SessionStore,
    private readonly algorithm: SigningAlgorithm,
    /** How long a retired key keeps verifying. */
    private readonly windowMs: number,
    /** True when the key came from configuration; it cannot be rotated here. */
    readonly configured: boolean,
  ) {
    this.#keys = keys;
  }

  static async open(options: {
    readonly store: SessionStore;
    /** For the first stored key, and for configured keys. */
    readonly algorithm: SigningAlgorithm;
    readonly jwt: JwtOptions | undefined;
    readonly windowMs: number;
    readonly now: number;
  }): Promise<KeyRing> {
    const ring = await KeyRing.#load(options);
    // Every key that may sign or verify now must be able to: refuse to start otherwise,
    // rather than answer every login with a 500 (a 1024-bit RSA key, a P-384 key for ES256).
    for (const key of ring.#keys) {
      if (ring.#inWindow(key, options.now)) await checkSigningKey(key, options.now);
    }
    return ring;
  }

  static async #load(options: {
    readonly store: SessionStore;
    readonly algorithm: SigningAlgorithm;
    readonly jwt: JwtOptions | undefined;
    readonly windowMs: number;
    readonly now: number;
  }): Promise<KeyRing> {
    const { store, algorithm, jwt, windowMs, now } = options;
    if (jwt?.secret !== undefined) {
      const secret = typeof jwt.secret === "string" ? new TextEncoder().encode(jwt.secret) : jwt.secret;
      return new KeyRing([keyFromSecret(algorithm, secret, now)], store, algorithm, windowMs, true);
    }
    if (jwt?.privateKeyPem !== undefined) {
      const key = await keyFromPem(algorithm, jwt.privateKeyPem, jwt.publicKeyPem ?? null, now);
      return new KeyRing([key], store, algorithm, windowMs, true);
    }
    const ring = new KeyRing(await loadKeys(store), store, algorithm, windowMs, false);
    if (jwt?.manageStoredKeys === false) return ring;
    // Only an explicit algorithm replaces the active key: a default must not undo a
    // rotation someone asked for (`keys rotate --algorithm`).
    const requested = jwt?.algorithm;
    const active = ring.#keys.find((key) => key.retiredAt === null);
    if (active === undefined) await ring.rotate(now, requested ?? algorithm);
    else if (requested !== undefined && active.alg !== requested) await ring.rotate(now, requested);
    return ring;
  }

  /** The key that signs new tokens. */
  active(): SigningKey {
    const active = this.#keys.find((key) => key.retiredAt === null) ?? this.#keys.at(-1);
    if (active === undefined) throw new TesseraError("internal_error", "No signing key is available.");
    return active;
  }

  /** The key with this `kid`, if it may still verify tokens at `now`. */
  verifierFor(kid: string, now: number): SigningKey | undefined {
    const key = this.#keys.find((candidate) => candidate.kid === kid);
    if (key === undefined || !this.#inWindow(key, now)) return undefined;
    return key;
  }

  /** Reloads stored keys when a `kid` is unknown, rate-limited. True if it reloaded. */
  async reloadIfStale(now: number): Promise<boolean> {
    if (this.configured || now - this.#lastReload < RELOAD_INTERVAL_MS) return false;
    await this.reload(now);
    return true;
  }

  /**
   * Reads the stored keys again: the store said they changed (another process rotated, e.g.
   * `tessera keys rotate`), so the active key may no longer be ours to sign with.
   */
  async reload(now: number): Promise<void> {
    if (this.configured) return;
    this.#lastReload = now;
    const keys = await loadKeys(this.store);
    if (keys.length > 0) this.#keys = keys;
  }

  /** The public JWKS: asymmetric keys still inside their verification window. */
  jwks(now: number): { keys: JWK[] } {
    return {
      keys: this.#keys
        .filter((key) => key.publicJwk !== null && this.#inWindow(key, now))
        .map((key) => key.publicJwk as JWK),
    };
  }

  list(): readonly SigningKey[] {
    return this.#keys;
  }

  /**
   * Makes a new active key and retires the current one. Returns the new key's id. The new
   * key has the active key's algorithm unless `algorithm` names another.
   */
  async rotate(now: number, algorithm?: SigningAlgorithm): Promise<string> {
    if (this.configured) {
      throw new TesseraError("forbidden", "The signing key comes from configuration; rotate it there.");
    }
    const current = this.#keys.find((key) => key.retiredAt === null)?.alg;
    const { key, serialized } = await generateSigningKey(algorithm ?? current ?? this.algorithm, now);
    await this.store.saveSigningKey(serialized);
    this.#keys = [
      ...this.#keys.map((old) => (old.retiredAt === null ? { ...old, retiredAt: now } : old)),
      key,
    ];
    return key.kid;
  }

  #inWindow(key: SigningKey, now: number): boolean {
    return key.retiredAt === null || key.retiredAt + this.windowMs > now;
  }
}

async function loadKeys(store: SessionStore): Promise<SigningKey[]> {
  const records = await store.listSigningKeys();
  return Promise.all(records.map((record) => deserializeSigningKey(record)));
}
