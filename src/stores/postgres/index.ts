/**
 * The PostgreSQL store's entry point (`tessera/postgres`): importing it loads `pg`, which
 * nothing else in Tessera does.
 */
export { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
