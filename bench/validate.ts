/**
 * Issue 2's claim, measured: validating a session token (cache hot) against verifying a
 * JWT with `jose` (HS256 and EdDSA), and against Tessera's own repeated validation of one
 * JWT (verified-claims cache).
 */
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { digestToken } from "../src/tokens/opaque.js";
import { compare } from "./measure.js";

export async function benchValidate(): Promise<void> {
  const tessera = await Tessera.create({
    store: new MemoryStore(),
    passwords: { memoryCost: 1024, timeCost: 1 },
  });
  await tessera.register({ username: "bench", password: "bench-password" });
  const login = await tessera.login({ username: "bench", password: "bench-password" });
  const other = await tessera.login({ username: "bench", password: "bench-password" });
  const upgraded = await tessera.upgrade(login.accessToken);
  const sessionToken = upgraded.accessToken;
  const jwt = other.accessToken;
  await tessera.validate(sessionToken);
  await tessera.validate(jwt);

  const hsSecret = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
  const hsToken = await new SignJWT({ sid: "s", username: "bench" })
    .setProtectedHeader({ alg: "HS256", kid: "k", typ: "at+jwt" })
    .setSubject("u")
    .setIssuedAt()
    .setExpirationTime("15m")
    .sign(hsSecret);
  const ed = await generateKeyPair("EdDSA");
  const edToken = await new SignJWT({ sid: "s", username: "bench" })
    .setProtectedHeader({ alg: "EdDSA", kid: "k", typ: "at+jwt" })
    .setSubject("u")
    .setIssuedAt()
    .setExpirationTime("15m")
    .sign(ed.privateKey);

  const resolved = Promise.resolve(0);
  const results = await compare("validate: session token vs JWT (one core, in-process)", [
    // The floor of this harness: awaiting an already resolved promise, no work at all.
    { name: "(harness floor: await a resolved promise)", op: () => resolved },
    // The floor of any design that keys its cache by a token digest.
    { name: "(SHA-256 of a session token alone)", op: () => digestToken(sessionToken) },
    { name: "tessera.validate(session token), cache hot", op: () => tessera.validate(sessionToken) },
    { name: "tessera.validate(same JWT again), verified-claims cache", op: () => tessera.validate(jwt) },
    { name: "jose jwtVerify EdDSA", op: () => jwtVerify(edToken, ed.publicKey, { algorithms: ["EdDSA"] }) },
    { name: "jose jwtVerify HS256", op: () => jwtVerify(hsToken, hsSecret, { algorithms: ["HS256"] }) },
  ]);
  const [, , session, , edResult, hsResult] = results;
  if (session && hsResult && edResult) {
    console.log(
      `\nsession token: ${(session.opsPerSecond / hsResult.opsPerSecond).toFixed(1)}× jose HS256, ` +
        `${(session.opsPerSecond / edResult.opsPerSecond).toFixed(1)}× jose EdDSA`,
    );
  }
  tessera.close();
}
