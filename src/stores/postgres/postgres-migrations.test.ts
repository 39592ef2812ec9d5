import { afterAll, describe, expect, it } from "vitest";
import { dropSchemas, rawClient, TEST_DATABASE_URL, uniqueSchema } from "../../../test/postgres-kit.js";
import { StoreOpenError } from "../session-store.js";
import { MIGRATIONS, migrate } from "./postgres-migrations.js";
import { PostgresStore } from "./postgres-store.js";

const schemas: string[] = [];
function schema(): string {
  const name = uniqueSchema("tessera_migr");
  schemas.push(name);
  return name;
}

afterAll(async () => {
  await dropSchemas(schemas);
});

describe("PostgreSQL migrations", () => {
  it("opening a new schema applies every migration and records each in the ledger", async () => {
    const name = schema();
    const store = await PostgresStore.open({ url: TEST_DATABASE_URL, schema: name });
    await store.close();
    const client = await rawClient(name);
    try {
      const { rows } = await client.query("SELECT version, name FROM schema_migrations ORDER BY version");
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      await client.end();
    }
  });

  it("a version-1 schema migrates: its users stay, with no identities until linked", async () => {
    const name = schema();
    const client = await rawClient(name);
    try {
      expect(await migrate(client, name, MIGRATIONS.slice(0, 1))).toBe(1);
      await client.query(
        "INSERT INTO users (uuid, username, username_key, password_hash, created_at) VALUES ($1, $2, $2, NULL, $3)",
        ["00000000-0000-4000-8000-000000000001", "partner-made", 1_700_000_000_000],
      );
    } finally {
      await client.end();
    }
    const store = await PostgresStore.open({ url: TEST_DATABASE_URL, schema: name });
    try {
      const user = await store.findUserByUsernameKey("partner-made");
      expect(user?.passwordHash).toBeNull();
      const id = user?.id ?? 0;
      expect(await store.listIdentities(id)).toEqual([]);
      const identity = {
        provider: "signed-payload",
        issuer: "acme",
        subject: "partner-made",
        userId: id,
        createdAt: 1,
      };
      expect(await store.linkIdentity(identity)).toEqual({ kind: "linked", identity });
      await store.deleteUser(id, 2, 3);
      expect(await store.findIdentity(identity)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it("of two runners on one new schema at once, one migrates and the other finds nothing to do", async () => {
    const name = schema();
    const clients = await Promise.all([rawClient(name), rawClient(name)]);
    try {
      const applied = await Promise.all(clients.map((client) => migrate(client, name)));
      expect(applied.sort()).toEqual([0, MIGRATIONS.length]);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it("two stores opening one new schema at once both work", async () => {
    const name = schema();
    const [a, b] = await Promise.all([
      PostgresStore.open({ url: TEST_DATABASE_URL, schema: name }),
      PostgresStore.open({ url: TEST_DATABASE_URL, schema: name }),
    ]);
    try {
      const user = await a.createUser({
        uuid: crypto.randomUUID(),
        username: "Ada",
        usernameKey: "ada",
        passwordHash: null,
        createdAt: Date.now(),
      });
      expect(await b.findUserByUsernameKey("ada")).toEqual(user);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a schema written by a newer Tessera is refused with the fix named", async () => {
    const name = schema();
    await (await PostgresStore.open({ url: TEST_DATABASE_URL, schema: name })).close();
    const client = await rawClient(name);
    await client.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')");
    await client.end();
    const opening = PostgresStore.open({ url: TEST_DATABASE_URL, schema: name });
    await expect(opening).rejects.toBeInstanceOf(StoreOpenError);
    await expect(opening).rejects.toThrow(
      /version 999, newer than this version of Tessera supports.*upgrade Tessera/,
    );
  });

  it("an unreachable server is refused at once, and the message shows the URL without its password", async () => {
    // Port 9 (discard): nothing listens there on this machine, so connecting is refused.
    const url = "postgres://postgres:s3cret-pw@127.0.0.1:9/test";
    const error = await PostgresStore.open({ url, schema: schema() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreOpenError);
    const message = (error as Error).message;
    expect(message).toContain("cannot reach PostgreSQL at postgres://postgres@127.0.0.1:9/test");
    expect(message).not.toContain("s3cret");
  });

  it("a server without durable commits is reported through onWarning, and the store still opens", async () => {
    // A role of its own whose sessions run with synchronous_commit off; dropped after.
    const role = uniqueSchema("tessera_nosync");
    const admin = await rawClient("public");
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`ALTER ROLE ${role} SET synchronous_commit = off`);
    await admin.query(`GRANT CREATE ON DATABASE ${new URL(TEST_DATABASE_URL).pathname.slice(1)} TO ${role}`);
    const url = new URL(TEST_DATABASE_URL);
    url.username = role;
    const name = schema();
    const warnings: string[] = [];
    try {
      const store = await PostgresStore.open({
        url: url.toString(),
        schema: name,
        onWarning: (m) => warnings.push(m),
      });
      await store.close();
      expect(warnings).toEqual([expect.stringContaining("synchronous_commit = off")]);
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await admin.query(`DROP OWNED BY ${role}`);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });

  it("bad options are a programmer's mistake: TypeError", async () => {
    await expect(PostgresStore.open({ url: TEST_DATABASE_URL, schema: "Bad-Name" })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(
      PostgresStore.open({ url: TEST_DATABASE_URL, schema: schema(), revocationLeaseMs: 0 }),
    ).rejects.toBeInstanceOf(TypeError);
  });
});
