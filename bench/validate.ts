/**
 * Issue 15, target 3: validating a session token (cache hot) against its floor — the
 * awaited SHA-256 + `Map.get` that any digest-keyed cache must pay — and the same JWT shown
 * again against a session token; with the peers (jose, fast-jwt with and without its cache).
 * Counted against this process's CPU time, like the jwt section: on a shared machine the
 * wall clock mostly measures the neighbours.
 */
import { createVerifier } from "fast-jwt";
import { jwtVerify, SignJWT } from "jose";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { digestToken } from "../src/tokens/opaque.js";
import { compare, note, pick, ratioLine } from "./measure.js";

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
  const fastJwtCached = createVerifier({ key: Buffer.from(hsSecret), algorithms: ["HS256"], cache: true });
  const fastJwt = createVerifier({ key: Buffer.from(hsSecret), algorithms: ["HS256"], cache: false });

  // The floor of any design that keys its cache by a token digest: hash, look up, (await).
  const floorMap = new Map([[digestToken(sessionToken), { ok: true }]]);
  const floorSync = () => floorMap.get(digestToken(sessionToken));
  const floorAsync = async () => floorMap.get(digestToken(sessionToken));
  // For context: what the floor skips and a session cache cannot, reading the clock for
  // the expiry checks (cache lifetime, expiry, absolute lifetime, idle timeout).
  const floorWithClock = async () => (Date.now() > 0 ? floorMap.get(digestToken(sessionToken)) : undefined);

  const names = {
    session: "tessera.validate(session token), cache hot",
    sessionSync: "tessera.validateSync(session token), cache hot",
    jwtAgain: "tessera.validate(same JWT again)",
    jwtAgainSync: "tessera.validateSync(same JWT again)",
    floorSync: "(SHA-256 + Map.get, synchronous)",
    floor: "(SHA-256 + Map.get, awaited)",
    floorWithClock: "SHA-256 + Map.get + Date.now(), awaited",
  };
  const results = await compare(
    "validate: session token and JWT again vs the hash + lookup floor (one core)",
    [
      { name: names.session, op: () => tessera.validate(sessionToken) },
      { name: names.sessionSync, op: () => tessera.validateSync(sessionToken) },
      { name: names.jwtAgain, op: () => tessera.validate(jwt) },
      { name: names.jwtAgainSync, op: () => tessera.validateSync(jwt) },
      { name: "fast-jwt HS256, cache on (same token again)", op: () => fastJwtCached(hsToken) },
      { name: "fast-jwt HS256, cache off", op: () => fastJwt(hsToken) },
      { name: "jose jwtVerify HS256", op: () => jwtVerify(hsToken, hsSecret, { algorithms: ["HS256"] }) },
      { name: names.floorWithClock, op: floorWithClock },
      { name: names.floorSync, op: floorSync },
      { name: names.floor, op: floorAsync },
    ],
    { clock: "cpu" },
  );
  note(
    ratioLine(
      "session token validate / awaited hash + lookup",
      pick(results, names.session),
      pick(results, names.floor),
      "≥ 0.90×",
      (r) => r >= 0.9,
    ),
  );
  note(
    ratioLine(
      "session token validate / awaited hash + lookup + clock read",
      pick(results, names.session),
      pick(results, names.floorWithClock),
      "(context: the floor above reads no clock)",
      () => true,
    ),
  );
  note(
    ratioLine(
      "validateSync / synchronous hash + lookup",
      pick(results, names.sessionSync),
      pick(results, names.floorSync),
      "(no target; the synchronous fast path)",
      () => true,
    ),
  );
  note(
    ratioLine(
      "same JWT again / session token (cost ratio: time per JWT over time per session token)",
      pick(results, names.session),
      pick(results, names.jwtAgain),
      "≤ 1.5×",
      (r) => r <= 1.5,
    ),
  );
  tessera.close();
}
