/**
 * argon2id password hashing (`@node-rs/argon2`) at OWASP's parameters (m=19456 KiB, t=2,
 * p=1) by default, behind a concurrency limiter.
 *
 * `verifyOrDummy` verifies against a real hash computed once at the same parameters when
 * the user does not exist, so an unknown username costs the same time as a wrong
 * password and login timing does not reveal who has an account.
 */
import { availableParallelism } from "node:os";
import { type Algorithm, hash, verify } from "@node-rs/argon2";
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
  /** Hashes computed at once. @default os.availableParallelism() */
  readonly concurrency?: number;
  /** Hashes allowed to wait before `rate_limited`. @default 32 */
  readonly maxQueue?: number;
  /** @default 8 */
  readonly minLength?: number;
  /** Longer passwords are refused rather than hashed. @default 1024 */
  readonly maxLength?: number;
}

export class PasswordHasher {
  readonly #params: { algorithm: Algorithm; memoryCost: number; timeCost: number; parallelism: number };
  readonly #limiter: Limiter;
  readonly #minLength: number;
  readonly #maxLength: number;
  #dummy: Promise<string> | undefined;

  constructor(options: PasswordOptions = {}) {
    this.#params = {
      algorithm: ARGON2ID,
      memoryCost: options.memoryCost ?? 19456,
      timeCost: options.timeCost ?? 2,
      parallelism: options.parallelism ?? 1,
    };
    this.#limiter = new Limiter(options.concurrency ?? availableParallelism(), options.maxQueue ?? 32);
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

  hash(password: string): Promise<string> {
    return this.#limiter.run(() => hash(password, this.#params));
  }

  /**
   * True when `password` matches `phc`. With `phc` null (unknown user), verifies against
   * a dummy hash and returns false, taking the same time as a wrong password.
   */
  verifyOrDummy(phc: string | null, password: string): Promise<boolean> {
    // Over-long input never reaches argon2, but still pays for a verification.
    const candidate = password.length > this.#maxLength ? "" : password;
    return this.#limiter.run(async () => {
      if (phc === null) {
        await verify(await this.#dummyHash(), candidate).catch(() => false);
        return false;
      }
      try {
        return await verify(phc, candidate);
      } catch {
        return false;
      }
    });
  }

  #dummyHash(): Promise<string> {
    this.#dummy ??= hash("tessera-dummy-password-for-unknown-users", this.#params);
    return this.#dummy;
  }

  /** Computes the dummy hash ahead of the first login, so that login is not slower. */
  warmUp(): Promise<void> {
    return this.#dummyHash().then(() => undefined);
  }
}
