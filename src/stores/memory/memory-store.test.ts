import { describeSessionStoreConformance } from "../conformance.js";
import { MemoryStore } from "./memory-store.js";

describeSessionStoreConformance("MemoryStore", async () => ({
  store: new MemoryStore(),
  cleanup: async () => {},
}));
