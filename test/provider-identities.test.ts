/**
 * Provider identities end to end (issue 11, item 20), over real ports with `fetch`, on the
 * server's SQLite file, with the CLI as another engine on the same database: a partner
 * signing `sub: "alice"` is not the local password user `alice` — it gets a user of its own
 * and never alice's session, data or sessions list — unless an operator links the identity
 * to her (`tessera users link`); then its logins and re-authentications are hers.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PartnerClaims } from "../src/engine/providers/sign-payload.js";
import { signPayload } from "../src/engine/providers/sign-payload.js";
import type { SecurityEvent, Session, TokenPair } from "../src/engine/types.js";
import { cli } from "./cli-kit.js";
import { startTestServer, tempDir } from "./server-kit.js";

type Running = Awaited<ReturnType<typeof startTestServer>>;
interface Answer<T> {
  readonly status: number;
  readonly body: T & { error?: { code: string } };
}

const ACME = { keyId: "acme-2026", secret: randomBytes(32).toString("base64url") };
const ACME_NEXT = { keyId: "acme-2027", secret: randomBytes(32).toString("base64url") };
const GLOBEX = { keyId: "globex-1", secret: randomBytes(32).toString("base64url") };
const INITECH = { keyId: "initech-1", secret: randomBytes(32).toString("base64url") };
const LEGACY = { keyId: "legacy-1", secret: randomBytes(32).toString("base64url") };

let server: Running;
let env: Record<string, string>;
const config = tempDir("tessera-identities-");

beforeAll(async () => {
  const partnersFile = join(config.path, "partners.json");
  writeFileSync(
    partnersFile,
    JSON.stringify({
      partners: [
        { ...ACME, algorithm: "HS256", partner: "acme" },
        { ...ACME_NEXT, algorithm: "HS256", partner: "acme" },
        { ...GLOBEX, algorithm: "HS256", partner: "globex" },
        { ...INITECH, algorithm: "HS256", partner: "initech", createUsers: false },
        { ...LEGACY, algorithm: "HS256", partner: "legacy", adoptExistingUsers: true },
      ],
    }),
  );
  server = await startTestServer({ partnersFile });
  env = { TESSERA_DATA_DIR: server.dataDir, TESSERA_LOG_LEVEL: "silent" };
});
afterAll(async () => {
  await server?.stop();
  config.remove();
});

async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  options: { token?: string; json?: unknown } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${server.urls.http}${path}`, {
    method,
    headers,
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Answer<T>["body"] };
}

let nonces = 0;
function signed(key: { keyId: string; secret: string }, sub: string, extra: Partial<PartnerClaims> = {}) {
  const nonce = `nonce-${++nonces}-${randomBytes(8).toString("hex")}`;
  return signPayload(key, { sub, iat: Math.floor(Date.now() / 1000), nonce, ...extra });
}

const partnerLogin = (
  key: { keyId: string; secret: string },
  sub: string,
  extra: Partial<PartnerClaims> = {},
) => api<TokenPair>("POST", "/auth/login/signed-payload", { json: signed(key, sub, extra) });

async function localUser(username: string): Promise<TokenPair> {
  expect((await api("POST", "/auth/register", { json: { username, password: "secret123" } })).status).toBe(
    201,
  );
  const login = await api<TokenPair>("POST", "/auth/login", { json: { username, password: "secret123" } });
  expect(login.status).toBe(200);
  return login.body;
}

describe("a partner's sub is not a local username", () => {
  it("a partner signing sub alice gets neither alice's session nor her data", async () => {
    const alice = await localUser("alice");
    const put = await api("PUT", "/auth/session/data", {
      token: alice.accessToken,
      json: { notes: "alice's" },
    });
    expect(put.status).toBe(200);

    const partner = await partnerLogin(ACME, "alice", { data: { via: "acme" } });
    expect(partner.status).toBe(200);
    expect(partner.body.user.id).not.toBe(alice.user.id);
    expect(partner.body.user.uuid).not.toBe(alice.user.uuid);
    expect(partner.body.user.username).toBe("signed-payload|acme|alice");

    const seen = await api<{ session: Session; user: { id: number } }>("GET", "/auth/session", {
      token: partner.body.accessToken,
    });
    expect(seen.body.user.id).toBe(partner.body.user.id);
    expect(seen.body.session.data).toEqual({ via: "acme" });
    const listed = await api<{ sessions: Session[] }>("GET", "/auth/sessions", {
      token: partner.body.accessToken,
    });
    expect(listed.body.sessions.map((session) => session.id)).toEqual([partner.body.sessionId]);
    // Alice's session is not the partner user's to end.
    const revoke = await api("DELETE", `/auth/sessions/${alice.sessionId}`, {
      token: partner.body.accessToken,
    });
    expect(revoke.status).toBe(404);

    // Alice is untouched: her data, her one session, her password.
    const hers = await api<{ session: Session }>("GET", "/auth/session", { token: alice.accessToken });
    expect(hers.body.session.data).toEqual({ notes: "alice's" });
    const again = await api<TokenPair>("POST", "/auth/login", {
      json: { username: "alice", password: "secret123" },
    });
    expect(again.body.user.id).toBe(alice.user.id);

    // The same partner identity again is the same (partner's) user, not a second one.
    expect((await partnerLogin(ACME, "alice")).body.user.id).toBe(partner.body.user.id);
  });

  it("a partner's proof does not re-authenticate alice's session", async () => {
    const alice = await localUser("alice-reauth");
    const proof = await api("POST", "/auth/reauthenticate", {
      token: alice.accessToken,
      json: { provider: "signed-payload", ...signed(ACME, "alice-reauth") },
    });
    expect(proof.status).toBe(401);
    expect(proof.body.error?.code).toBe("invalid_credentials");
    // Nothing was created on the way: the identity is still unknown.
    const identities = await cli(["users", "list", "--json"], { env });
    expect(identities.out).not.toContain("signed-payload|acme|alice-reauth");
  });

  it("each partner is its own namespace; a partner's keys share one", async () => {
    const acme = await partnerLogin(ACME, "bob");
    const rotated = await partnerLogin(ACME_NEXT, "bob");
    const globex = await partnerLogin(GLOBEX, "bob");
    expect(rotated.body.user.id).toBe(acme.body.user.id);
    expect(globex.body.user.id).not.toBe(acme.body.user.id);
    expect(globex.body.user.username).toBe("signed-payload|globex|bob");
  });

  it("a name with | cannot be registered locally, so no local name looks like an identity's", async () => {
    const taken = await api("POST", "/auth/register", {
      json: { username: "signed-payload|acme|mallory", password: "secret123" },
    });
    expect(taken.status).toBe(400);
    expect(taken.body.error?.code).toBe("invalid_request");
  });

  it("a subject that is no valid username gets a hashed name, still its own user", async () => {
    const long = "x".repeat(200);
    const first = await partnerLogin(ACME, long);
    expect(first.status).toBe(200);
    expect(first.body.user.username).toMatch(/^signed-payload\|~[A-Za-z0-9_-]{22}$/);
    expect((await partnerLogin(ACME, long)).body.user.id).toBe(first.body.user.id);
  });
});

describe("linking an identity to a user", () => {
  it("tessera users link makes the partner's logins and re-authentications the user's; unlink ends that", async () => {
    const carol = await localUser("carol");
    const linked = await cli(
      ["users", "link", "carol", "--provider", "signed-payload", "--issuer", "acme", "--subject", "c-42"],
      { env },
    );
    expect(linked.code).toBe(0);
    expect(linked.out).toContain("Linked");
    const listed = await cli(["users", "identities", "carol", "--json"], { env });
    expect(JSON.parse(listed.out)).toEqual([
      { provider: "signed-payload", issuer: "acme", subject: "c-42", linkedAt: expect.any(String) },
    ]);

    const viaPartner = await partnerLogin(ACME_NEXT, "c-42");
    expect(viaPartner.status).toBe(200);
    expect(viaPartner.body.user).toEqual(carol.user);

    // A partner proof of the linked identity re-authenticates carol's password session.
    const proof = await api<{ session: Session }>("POST", "/auth/reauthenticate", {
      token: carol.accessToken,
      json: { provider: "signed-payload", ...signed(ACME, "c-42") },
    });
    expect(proof.status).toBe(200);
    expect(proof.body.session.authMethods).toEqual(["signed-payload"]);
    // The same sub from another partner is another identity: no proof of carol.
    const other = await api("POST", "/auth/reauthenticate", {
      token: carol.accessToken,
      json: { provider: "signed-payload", ...signed(GLOBEX, "c-42") },
    });
    expect(other.status).toBe(401);

    // Linking it to someone else is refused while it is carol's.
    const dave = await localUser("dave");
    const stolen = await cli(
      ["users", "link", "dave", "--provider", "signed-payload", "--issuer", "acme", "--subject", "c-42"],
      { env },
    );
    expect(stolen.code).not.toBe(0);
    expect(stolen.err).toMatch(/another user/);

    const unlinked = await cli(
      ["users", "unlink", "--provider", "signed-payload", "--issuer", "acme", "--subject", "c-42"],
      { env },
    );
    expect(unlinked.code).toBe(0);
    const after = await partnerLogin(ACME, "c-42");
    expect(after.body.user.id).not.toBe(carol.user.id);
    expect(after.body.user.id).not.toBe(dave.user.id);
  });

  it("a partner that creates no users lets in only linked identities", async () => {
    const before = JSON.parse((await cli(["users", "list", "--json"], { env })).out) as unknown[];
    const refused = await partnerLogin(INITECH, "erin");
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe("invalid_credentials");
    const unchanged = JSON.parse((await cli(["users", "list", "--json"], { env })).out) as unknown[];
    expect(unchanged).toHaveLength(before.length);

    const erin = await localUser("erin");
    const linked = await cli(
      ["users", "link", "erin", "--provider", "signed-payload", "--issuer", "initech", "--subject", "erin"],
      { env },
    );
    expect(linked.code).toBe(0);
    expect((await partnerLogin(INITECH, "erin")).body.user.id).toBe(erin.user.id);
  });

  it("a deleted user's identity is free again: its next login is a new user", async () => {
    const first = await partnerLogin(GLOBEX, "frank");
    expect((await cli(["users", "delete", first.body.user.username, "--yes"], { env })).code).toBe(0);
    const next = await partnerLogin(GLOBEX, "frank");
    expect(next.status).toBe(200);
    expect(next.body.user.id).not.toBe(first.body.user.id);
  });
});

describe("users made by providers before identities existed", () => {
  it("a partner configured to adopts its password-less users, never a password user", async () => {
    // What the provider made before this change: a user named by the sub, without a password.
    const old = await server.store.createUser({
      uuid: randomUUID(),
      username: "grace",
      usernameKey: "grace",
      passwordHash: null,
      createdAt: Date.now(),
    });
    const adopted = await partnerLogin(LEGACY, "grace");
    expect(adopted.body.user.id).toBe(old?.id);
    expect(adopted.body.user.username).toBe("grace");
    expect((await partnerLogin(LEGACY, "grace")).body.user.id).toBe(old?.id);

    const heidi = await localUser("heidi");
    const notAdopted = await partnerLogin(LEGACY, "heidi");
    expect(notAdopted.status).toBe(200);
    expect(notAdopted.body.user.id).not.toBe(heidi.user.id);
    expect(notAdopted.body.user.username).toBe("signed-payload|legacy|heidi");

    // A partner without the setting never adopts: grace is legacy's now, and acme's "grace" is another.
    expect((await partnerLogin(ACME, "grace")).body.user.id).not.toBe(old?.id);
  });
});

describe("security events name the provider", () => {
  it("a partner login's events say signed-payload; a refused one is a login_failed naming it", async () => {
    const ivan = await partnerLogin(ACME, "ivan");
    await server.tessera.securityEventsSettled();
    const events = await api<{ events: SecurityEvent[] }>("GET", "/auth/events", {
      token: ivan.body.accessToken,
    });
    const succeeded = events.body.events.find((event) => event.kind === "login_succeeded");
    expect(succeeded?.detail).toMatchObject({ provider: "signed-payload" });

    await partnerLogin(INITECH, "nobody-linked");
    await server.tessera.securityEventsSettled();
    const failed = await server.tessera.listSecurityEvents({ kinds: ["login_failed"], limit: 10 });
    expect(failed.events.map((event) => event.detail)).toContainEqual({
      provider: "signed-payload",
      reason: "invalid_credentials",
    });
  });
});
