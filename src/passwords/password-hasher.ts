/**
 * argon2id password hashing (`@node-rs/argon2`) at OWASP's parameters (m=19456 KiB, t=2,
 * p=1) by default, behind a concurrency limiter.
 *
 * `verifyOrDummy` verifies against a real hash computed once at the same parameters when
 * the user does not exist, so an unknown username costs the same time as a wrong
 * password and login timing does not reveal who has an account. `warmUp` computes that
 * hash (and runs one verification) ahead of the first login, so the first unknown user does
 * not pay for it (issue 11.18). It runs on the thread pool while the server starts; a
 * verification asked for before it has finished waits for it, known user or not, so that
 * even then both cost the same.
 *
 * At most `concurrency` hashes run at once — by default one fewer than the cores, so that a
 * login flood leaves a core to the event loop and validation keeps its latency (11.19).
 *
 * The native argon2 module is loaded at the first hash, not at import: importing the
 * package (a guard, the client of a store) loads no native code.
 */
import { availableParallelism } from "node:os";
import type { Algorithm, hash, verify } from "@node-rs/argon2";
import { TesseraError } from "../errors.js";
import { Limiter } from "./limiter.js";

/** `Algorithm.Argon2id`; the package ships it as a const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm.Argon2id;

export interface PasswordOptions {
  /** Memory cost in KiB. @default 19456 */
  readonly memoryCost?: number;
  /** Iterations. @default 2 */
  readonly timeCost?: number;
  /** Lanes. @default 1 */
  readonly parallelism?: number;
  /** Hashes computed at once. @default os.availableParallelism() − 1, at least 1 */
  readonly concurrency?: number;
  /** Hashes allowed to wait before `rate_limited`. @default 32 */
  readonly maxQueue?: number;
  /** @default 8 */
  readonly minLength?: number;
  /** Longer passwords are refused rather than hashed. @default 1024 */
  readonly maxLength?: number;
  /** The argon2 functions (to count calls in tests). @default `@node-rs/argon2` */
  readonly argon2?: Argon2;
}

export interface Argon2 {
  readonly hash: typeof hash;
  readonly verify: typeof verify;
}

/**
 * The form a password is hashed and compared in: Unicode NFKC (NIST SP 800-63B 5.1.1.2), so
 * the same password typed on keyboards that compose characters differently (é as one code
 * point or as e + combining accent) is the same password.
 */
export function normalisePassword(password: string): string {
  return password.normalize("NFKC");
}

/** Hashing threads that leave the event loop a core of its own. */
export function defaultHashConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

export class PasswordHasher {
  readonly #params: { algorithm: Algorithm; memoryCost: number; timeCost: number; parallelism: number };
  readonly #limiter: Limiter;
  readonly #minLength: number;
  readonly #maxLength: number;
  #argon2: Promise<Argon2> | undefined;
  #dummy: Promise<string> | undefined;
  #warm: Promise<void> | undefined;

  constructor(options: PasswordOptions = {}) {
    this.#params = {
      algorithm: ARGON2ID,
      memoryCost: options.memoryCost ?? 19456,
      timeCost: options.timeCost ?? 2,
      parallelism: options.parallelism ?? 1,
    };
    this.#limiter = new Limiter(options.concurrency ?? defaultHashConcurrency(), options.maxQueue ?? 32);
    if (options.argon2 !== undefined) this.#argon2 = Promise.resolve(options.argon2);
    this.#minLength = options.minLength ?? 8;
    this.#maxLength = options.maxLength ?? 1024;
  }

  /** Refuses passwords that are too short or too long, with a field-level message. */
  checkPolicy(password: string): void {
    if (password.length < this.#minLength) {
      throw new TesseraError(
        "invalid_request",
        `The password must be at least ${this.#minLength} characters.`,
        {
          issues: [{ path: "password", message: `must be at least ${this.#minLength} characters` }],
        },
      );
    }
    if (password.length > this.#maxLength) {
      throw new TesseraError(
        "invalid_request",
        `The password must be at most ${this.#maxLength} characters.`,
        {
          issues: [{ path: "password", message: `must be at most ${this.#maxLength} characters` }],
        },
      );
    }
  }

  /**
   * Throws `rate_limited` when a hash or a verification asked for now would be refused (every
   * slot busy, the queue full), so that a login flood's refusals cost no work before it.
   */
  refuseIfBusy(): void {
    this.#limiter.refuseIfFull();
  }

  /** Hashes the password in its normalised form (see `normalisePassword`). */
  hash(password: string): Promise<string> {
    const normalised = normalisePassword(password);
    return this.#limiter.run(async () => (await this.#functions()).hash(normalised, this.#params));
  }

  /** The argon2 functions, loading the native module on first use. */
  #functions(): Promise<Argon2> {
    this.#argon2 ??= import("@node-rs/argon2").then(({ hash, verify }) => ({ hash, verify }));
    return this.#argon2;
  }

  /**
   * True when `password` matches `phc`. With `phc` null (unknown user), verifies against
   * a dummy hash and returns false, taking the same time as a wrong password.
   *
   * The normalised password is tried first. A hash made before passwords were normalised
   * holds the password as it was typed: when only that form matches, `onLegacyMatch` is
   * called so the caller can store a hash of the normalised form (verify, then rehash).
   */
  verifyOrDummy(phc: string | null, password: string, onLegacyMatch?: () => void): Promise<boolean> {
    // Over-long input never reaches argon2, but still pays for a verification.
    const candidate = password.length > this.#maxLength ? "" : password;
    const normalised = normalisePassword(candidate);
    return this.#limiter.run(async () => {
      // During the warm-up every login waits for it: an unknown user's would, for the dummy hash.
      await this.#warm;
      const argon2 = await this.#functions();
      const check = (hash: string, input: string) => argon2.verify(hash, input).catch(() => false);
      if (phc === null) {
        // As many verifications as a wrong password of the same form costs.
        const dummy = await this.#dummyHash();
        await check(dummy, normalised);
        if (normalised !== candidate) await check(dummy, candidate);
        return false;
      }
      if (await check(phc, normalised)) return true;
      if (normalised === candidate || !(await check(phc, candidate))) return false;
      onLegacyMatch?.();
      return true;
    });
  }

  #dummyHash(): Promise<string> {
    this.#dummy ??= this.#functions().then((argon2) =>
      argon2.hash("tessera-dummy-password-for-unknown-users", this.#params),
    );
    return this.#dummy;
  }

  /**
   * Starts computing the dummy hash and one verification against it, ahead of the first
   * login: the first unknown user then costs one verification, like every later one.
   * Resolves once the native module is loaded (a missing one fails here, at start-up); the
   * hashing goes on in the background, and verifications wait for it.
   */
  async warmUp(): Promise<void> {
    this.#warm ??= (async () => {
      const dummy = await this.#dummyHash();
      await (await this.#functions()).verify(dummy, "tessera-warm-up").catch(() => false);
    })();
    // A failed warm-up fails the logins that wait for it; it is no unhandled rejection.
    this.#warm.catch(() => undefined);
    await this.#functions();
  }

  /** Hashes that may run at once. */
  get concurrency(): number {
    return this.#limiter.concurrency;
  }
}
