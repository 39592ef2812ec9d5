import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { describeSessionStoreConformance } from "../conformance.js";
import type { StoreEvent } from "../session-store.js";
import { MIGRATIONS, migrate } from "./migrations.js";
import { SqliteStore } from "./sqlite-store.js";

const POLL_MS = 10;

/** A fresh directory under the system temp dir, removed after each test. */
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-"));
  dirs.push(dir);
  return dir;
}

describeSessionStoreConformance("SqliteStore", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-"));
  // A directory that does not exist yet: open() must create it.
  const path = join(dir, "data", "tessera.db");
  return {
    store: SqliteStore.open({ path, pollIntervalMs: POLL_MS }),
    reopen: async () => SqliteStore.open({ path, pollIntervalMs: POLL_MS }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("SqliteStore on a shared file", () => {
  const stores: SqliteStore[] = [];
  function openStore(path: string): SqliteStore {
    const store = SqliteStore.open({ path, pollIntervalMs: POLL_MS });
    stores.push(store);
    return store;
  }

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function seed(store: SqliteStore) {
    const now = Date.now();
    const user = await store.createUser({
      uuid: crypto.randomUUID(),
      username: "Ada",
      usernameKey: `ada-${crypto.randomUUID()}`,
      passwordHash: null,
      createdAt: now,
    });
    if (user === null) throw new Error("could not create a user");
    const id = crypto.randomUUID();
    const refreshHash = crypto.randomUUID();
    await store.createSession({
      session: {
        id,
        userId: user.id,
        deviceId: null,
        deviceName: null,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 60_000,
        maxExpiresAt: now + 120_000,
        authenticatedAt: now,
        authMethods: ["pwd"],
        tokenType: "jwt",
        metadata: { userAgent: null, ipAddress: null },
        data: null,
        sessionTokenHash: null,
      },
      refreshToken: { hash: refreshHash, sessionId: id, createdAt: now, expiresAt: now + 60_000 },
    });
    return { user, sessionId: id, now, refreshHash };
  }

  async function eventually(check: () => boolean): Promise<boolean> {
    const deadline = Date.now() + 1000;
    while (!check()) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  it("the database file runs in WAL mode", async () => {
    const path = join(tempDir(), "tessera.db");
    openStore(path);
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      raw.close();
    }
  });

  it("its name says which file it uses", () => {
    const path = join(tempDir(), "named.db");
    expect(openStore(path).name).toBe(`sqlite:${path}`);
  });

  it("a second store on the same file hears a revocation made by the first", async () => {
    const path = join(tempDir(), "tessera.db");
    const server = openStore(path);
    const cli = openStore(path);
    const { user, sessionId, now } = await seed(cli);
    const heard: StoreEvent[] = [];
    server.events.subscribe((event) => heard.push(event));

    await cli.revokeSessions([sessionId], "admin", now, now + 60_000);

    const revoked = (event: StoreEvent) => event.kind === "session_revoked" && event.sessionId === sessionId;
    expect(await eventually(() => heard.some(revoked))).toBe(true);
    expect(heard.find(revoked)).toEqual({
      kind: "session_revoked",
      sessionId,
      userId: user.id,
      reason: "admin",
    });
    expect((await server.getSession(sessionId))?.revokedReason).toBe("admin");
  });

  it("a store emits its own writes once, not again when its poll reads them back", async () => {
    const path = join(tempDir(), "tessera.db");
    const store = openStore(path);
    const { sessionId, now } = await seed(store);
    const heard: StoreEvent[] = [];
    store.events.subscribe((event) => heard.push(event));
    await store.updateSessionData(sessionId, { a: 1 }, now);
    // The marker is written by another store, so this one only hears it through its poll,
    // which by then has also read back the first event's row.
    const marker = await seed(openStore(path));
    await openStore(path).updateSessionData(marker.sessionId, { b: 2 }, now);
    expect(
      await eventually(() =>
        heard.some((e) => e.kind === "session_updated" && e.sessionId === marker.sessionId),
      ),
    ).toBe(true);
    expect(heard.filter((e) => e.kind === "session_updated" && e.sessionId === sessionId)).toHaveLength(1);
  });

  it("a newly opened store does not replay events written before it opened", async () => {
    const path = join(tempDir(), "tessera.db");
    const first = openStore(path);
    const { sessionId, now } = await seed(first);
    await first.revokeSessions([sessionId], "logout", now, now + 60_000);
    const late = openStore(path);
    const heard: StoreEvent[] = [];
    late.events.subscribe((event) => heard.push(event));
    // A later event proves the late store is polling; the earlier one must not come with it.
    const marker = await seed(first);
    await first.revokeSessions([marker.sessionId], "logout", now, now + 60_000);
    expect(await eventually(() => heard.some((e) => e.kind === "session_revoked"))).toBe(true);
    expect(
      heard
        .filter((e) => e.kind === "session_revoked")
        .map((e) => e.kind === "session_revoked" && e.sessionId),
    ).toEqual([marker.sessionId]);
  });

  it("of concurrent redeemers on two stores sharing a file exactly one redeems a link and gets a session", async () => {
    const path = join(tempDir(), "tessera.db");
    const a = openStore(path);
    const b = openStore(path);
    const { user, now } = await seed(a);
    const hash = crypto.randomUUID();
    await a.createLink({
      hash,
      userId: user.id,
      issuedBySessionId: null,
      data: null,
      redirectTo: null,
      confirm: false,
      provider: null,
      deviceId: null,
      createdAt: now,
      expiresAt: now + 60_000,
    });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const id = crypto.randomUUID();
        return (i % 2 ? a : b).redeemLink({
          hash,
          now,
          session: {
            session: {
              id,
              userId: user.id,
              deviceId: null,
              deviceName: null,
              createdAt: now,
              lastSeenAt: now,
              expiresAt: now + 60_000,
              maxExpiresAt: now + 60_000,
              authenticatedAt: now,
              authMethods: ["link"],
              tokenType: "session",
              metadata: { userAgent: null, ipAddress: null },
              data: null,
              sessionTokenHash: crypto.randomUUID(),
            },
            refreshToken: {
              hash: crypto.randomUUID(),
              sessionId: id,
              createdAt: now,
              expiresAt: now + 60_000,
            },
          },
        });
      }),
    );
    expect(outcomes.filter((o) => o.kind === "redeemed")).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === "used")).toHaveLength(19);
    // The seeded session and the one redemption's.
    expect(await b.listSessions(user.id, now)).toHaveLength(2);
  });

  it("a second store hears session_updated when the first rotates or reissues, so it drops its cached copy", async () => {
    const path = join(tempDir(), "tessera.db");
    const server = openStore(path);
    const other = openStore(path);
    const { sessionId, now, refreshHash } = await seed(other);
    const heard: StoreEvent[] = [];
    server.events.subscribe((event) => heard.push(event));
    const updates = () =>
      heard.filter((e) => e.kind === "session_updated" && e.sessionId === sessionId).length;

    const rotated = await other.rotateRefreshToken({
      oldHash: refreshHash,
      successor: { hash: crypto.randomUUID(), createdAt: now, expiresAt: now + 60_000 },
      sealedSuccessor: "sealed",
      sessionTokenHash: null,
      expiresAt: now + 60_000,
      now,
    });
    expect(rotated.kind).toBe("rotated");
    expect(await eventually(() => updates() === 1)).toBe(true);

    await other.reissueSession({
      sessionId,
      refreshToken: { hash: crypto.randomUUID(), createdAt: now, expiresAt: now + 60_000 },
      sessionTokenHash: null,
      expiresAt: now + 60_000,
      now,
    });
    expect(await eventually(() => updates() === 2)).toBe(true);
  });

  it("a version-1 database migrates: sessions get a cap, a login time and password as their method", async () => {
    const path = join(tempDir(), "tessera.db");
    const raw = new Database(path);
    raw.pragma("journal_mode = WAL");
    raw.pragma("foreign_keys = ON");
    migrate(raw, MIGRATIONS.slice(0, 1));
    const created = 1_700_000_000_000;
    const day = 24 * 3600 * 1000;
    raw
      .prepare(
        "INSERT INTO users (uuid, username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run("u-1", "Ada", "ada", null, created);
    const insertSession = raw.prepare(
      `INSERT INTO sessions (id, user_id, device_id, created_at, last_seen_at, expires_at, token_type,
         user_agent, ip_address, data, session_token_hash) VALUES (?, 1, 'phone', ?, ?, ?, 'jwt', 'ua', 'ip', ?, NULL)`,
    );
    insertSession.run("short", created, created, created + 14 * day, '{"n":1}');
    insertSession.run("long", created, created, created + 40 * day, "null");
    raw
      .prepare("INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
      .run("rt", "short", created, created + 14 * day);
    raw.close();

    const store = openStore(path);
    expect(await store.findUserById(1)).toMatchObject({ username: "Ada", disabledAt: null });
    expect(await store.getSession("short")).toMatchObject({
      deviceId: "phone",
      deviceName: null,
      expiresAt: created + 14 * day,
      maxExpiresAt: created + 30 * day,
      authenticatedAt: created,
      authMethods: ["pwd"],
      data: { n: 1 },
    });
    expect((await store.getSession("long"))?.maxExpiresAt).toBe(created + 40 * day);
    const rotated = await store.rotateRefreshToken({
      oldHash: "rt",
      successor: { hash: "rt2", createdAt: created + 1, expiresAt: created + 60 * day },
      sealedSuccessor: "sealed",
      sessionTokenHash: null,
      expiresAt: created + 60 * day,
      now: created + 1,
    });
    expect(rotated.kind === "rotated" && rotated.session.expiresAt).toBe(created + 30 * day);

    const check = new Database(path);
    try {
      const references = check.prepare("PRAGMA foreign_key_list(refresh_tokens)").all() as {
        table: string;
      }[];
      expect(references.map((r) => r.table)).toEqual(["sessions"]);
      expect(check.prepare("PRAGMA foreign_key_check").all()).toEqual([]);
    } finally {
      check.close();
    }
  });

  it("a version-2 database migrates: its users stay, with no identities until linked", async () => {
    const path = join(tempDir(), "tessera.db");
    const raw = new Database(path);
    raw.pragma("journal_mode = WAL");
    migrate(raw, MIGRATIONS.slice(0, 2));
    // A user a provider made before identities existed: named by the partner's sub, no password.
    raw
      .prepare(
        "INSERT INTO users (uuid, username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run("u-1", "partner-made", "partner-made", null, 1_700_000_000_000);
    raw.close();

    const store = openStore(path);
    const user = await store.findUserByUsernameKey("partner-made");
    expect(user).toMatchObject({ id: 1, passwordHash: null });
    expect(await store.listIdentities(1)).toEqual([]);
    const identity = {
      provider: "signed-payload",
      issuer: "acme",
      subject: "partner-made",
      userId: 1,
      createdAt: 1,
    };
    expect(await store.linkIdentity(identity)).toEqual({ kind: "linked", identity });
    // The identity goes with its user (ON DELETE CASCADE).
    await store.deleteUser(1, 2, 3);
    expect(await store.findIdentity(identity)).toBeNull();
  });

  it("migrations are applied once and reopening applies none", async () => {
    const path = join(tempDir(), "tessera.db");
    const first = openStore(path);
    const { sessionId } = await seed(first);
    await first.close();
    const second = openStore(path);
    expect(await second.getSession(sessionId)).not.toBeNull();
    const raw = new Database(path);
    try {
      const versions = raw.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all();
      expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
      expect(migrate(raw)).toBe(0);
    } finally {
      raw.close();
    }
  });

  it("a database written by a newer Tessera is refused with a clear error", () => {
    const path = join(tempDir(), "tessera.db");
    openStore(path);
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    raw.close();
    expect(() => SqliteStore.open({ path })).toThrow(
      /cannot open SQLite database .*schema version 999 is newer/,
    );
  });

  it("a file that is not a database fails to open with a clear error", () => {
    const path = join(tempDir(), "corrupt.db");
    writeFileSync(path, "this is not an SQLite database, just some text that is long enough ".repeat(100));
    expect(() => SqliteStore.open({ path })).toThrow(
      /cannot open SQLite database at .*corrupt\.db: .*not a database/,
    );
  });

  it("a path under a regular file fails to open with a clear error", () => {
    const blocker = join(tempDir(), "not-a-directory");
    writeFileSync(blocker, "");
    expect(() => SqliteStore.open({ path: join(blocker, "tessera.db") })).toThrow(
      /cannot open SQLite database at/,
    );
  });

  it("a poll interval that is not a positive number is a programming error", () => {
    const path = join(tempDir(), "tessera.db");
    expect(() => SqliteStore.open({ path, pollIntervalMs: 0 })).toThrow(TypeError);
  });

  it("an SQLite failure after opening rejects the operation instead of throwing", async () => {
    const path = join(tempDir(), "tessera.db");
    const store = openStore(path);
    const raw = new Database(path);
    raw.exec("DROP TABLE links");
    raw.close();
    const pending = store.peekLink("anything");
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toThrow(/no such table/);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it("the event feed stops being current when its polls fail", async () => {
    const path = join(tempDir(), "tessera.db");
    const store = openStore(path);
    expect(store.events.isCurrent()).toBe(true);
    const raw = new Database(path);
    raw.exec("DROP TABLE events");
    raw.close();
    expect(await eventually(() => !store.events.isCurrent())).toBe(true);
  });

  it("the event feed of a closed store is not current", async () => {
    const store = openStore(join(tempDir(), "tessera.db"));
    await store.close();
    expect(store.events.isCurrent()).toBe(false);
  });
});
