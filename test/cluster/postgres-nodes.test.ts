/**
 * Three `tessera serve` processes on one PostgreSQL database (the machine's server, a
 * database made for this run and dropped after it), each behind its own TCP proxy so the
 * suite can cut a node off from the store. Revocations travel through the store's event
 * log. The machine's PostgreSQL is shared, so it is never stopped: no restart or kill cases.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { TEST_DATABASE_URL } from "../postgres-kit.js";
import { describeMultiNode } from "./multi-node.js";

describeMultiNode("one PostgreSQL database", async () => {
  const database = `tessera_nodes_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const server = new URL(TEST_DATABASE_URL);
  return {
    port: Number(server.port || 5432),
    nodeArgs: (proxyPort) => {
      const url = new URL(TEST_DATABASE_URL);
      url.port = String(proxyPort);
      url.pathname = `/${database}`;
      return ["--store", "postgres", "--database-url", url.toString()];
    },
    async close() {
      // FORCE: a node that did not exit cleanly may still hold a connection.
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
});
