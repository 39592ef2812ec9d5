/**
 * `tessera/sqlite`: the embedded SQLite store (better-sqlite3, a native module), kept out
 * of the package root so that importing `tessera` loads no native code.
 */
export { SqliteStore, type SqliteStoreOptions } from "../stores/sqlite/sqlite-store.js";
