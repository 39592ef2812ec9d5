/**
 * `tessera-sessions/postgres`: the PostgreSQL store (`pg`), for several nodes on one
 * database. Importing it loads `pg`; nothing else in the package does.
 */
export { PostgresStore, type PostgresStoreOptions } from "../stores/postgres/index.js";
