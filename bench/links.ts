/**
 * Issue 6, measured: what a single-use link costs end to end in the engine (issue, then the
 * atomic redeem that starts its session) on each store, against starting a session directly;
 * and what verifying a partner's signed payload costs per algorithm.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signPayload } from "../src/engine/providers/sign-payload.js";
import { signedPayloadProvider } from "../src/engine/providers/signed-payload.js";
import type { ProviderContext } from "../src/engine/providers.js";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import type { SessionStore } from "../src/stores/session-store.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { compare } from "./measure.js";

async function engineOn(store: SessionStore) {
  const tessera = await Tessera.create({
    store,
    passwords: { memoryCost: 1024, timeCost: 1 },
    loginThrottle: false,
  });
  const user = await tessera.register({ username: "bench", password: "bench-password" });
  return { tessera, user };
}

export async function benchLinks(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-links-"));
  const memory = await engineOn(new MemoryStore());
  const sqliteStore = SqliteStore.open({ path: join(dir, "bench.db") });
  const sqlite = await engineOn(sqliteStore);
  const data = { cart: Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${i}`, qty: i })) };
  try {
    await compare(
      "link: issue + redeem (engine, 1 KiB data)",
      [
        {
          name: "issue + redeem, MemoryStore",
          op: async () =>
            memory.tessera.redeemLink(
              (await memory.tessera.issueLink({ userId: memory.user.id, data })).token,
            ),
        },
        {
          name: "issue + redeem, SQLite file",
          op: async () =>
            sqlite.tessera.redeemLink(
              (await sqlite.tessera.issueLink({ userId: sqlite.user.id, data })).token,
            ),
        },
        {
          name: "startSession only, MemoryStore",
          op: () => memory.tessera.startSession({ user: memory.user, data, tokenType: "session" }),
        },
      ],
      { rounds: 3, msPerRound: 300 },
    );
  } finally {
    memory.tessera.close();
    sqlite.tessera.close();
    await sqliteStore.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const ed = generateKeyPairSync("ed25519");
  const secret = randomBytes(32);
  const provider = signedPayloadProvider({
    partners: [
      {
        keyId: "ed",
        algorithm: "Ed25519",
        publicKeyPem: ed.publicKey.export({ type: "spki", format: "pem" }).toString(),
      },
      { keyId: "hs", algorithm: "HS256", secret },
    ],
  });
  const user = { id: 1, uuid: "00000000-0000-4000-8000-000000000000", username: "bench" };
  // Verification only: the store parts (nonce, user) are answered at once.
  const context: ProviderContext = {
    metadata: {},
    now: Date.now,
    verifyPassword: async () => user,
    resolveIdentity: async () => user,
    findOrCreateUser: async () => user,
    rememberNonce: async () => true,
  };
  const claims = { sub: "bench", iat: Math.floor(Date.now() / 1000), nonce: "bench-nonce-0123456789", data };
  const edInput = signPayload({ keyId: "ed", privateKey: ed.privateKey }, claims);
  const hsInput = signPayload({ keyId: "hs", secret }, claims);
  await compare(
    "signed-payload: verify and decode one payload",
    [
      { name: "Ed25519", op: () => provider.authenticate(edInput, context) },
      { name: "HS256", op: () => provider.authenticate(hsInput, context) },
    ],
    { rounds: 3, msPerRound: 300 },
  );
}
