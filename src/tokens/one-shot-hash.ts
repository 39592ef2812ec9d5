/**
 * `crypto.hash` (Node ≥ 20.12): a one-shot digest with no `Hash` object behind it, about
 * twice as fast as `createHash` for short inputs. Read off the namespace, so that an older
 * Node 20 loads the modules that use it; they fall back to `createHash`/`createHmac` when
 * it is undefined.
 */
import * as nodeCrypto from "node:crypto";

export const oneShotHash: typeof nodeCrypto.hash | undefined =
  typeof nodeCrypto.hash === "function" ? nodeCrypto.hash : undefined;
