/**
 * `tessera-sessions/testing`: what someone writing a store outside this project needs — the record
 * types of the `SessionStore` interface and the one conformance suite every store of
 * Tessera passes. The suite runs under Vitest (a peer dependency of this entry only):
 *
 * ```ts
 * import { describeSessionStoreConformance } from "tessera-sessions/testing";
 * describeSessionStoreConformance("my store", async () => ({ store: await MyStore.open(), cleanup: async () => {} }));
 * ```
 */
export { describeSessionStoreConformance, type OpenedStore } from "../stores/conformance.js";
export * from "../stores/session-store.js";
