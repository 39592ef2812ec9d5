/**
 * `tessera-sessions/client`: the browser and Node SDK. ESM, typed, no runtime dependencies and no
 * DOM in the core; it loads nothing of the server (the architecture test keeps it so).
 *
 * ```ts
 * import { createClient } from "tessera-sessions/client";
 * const client = createClient({ baseUrl: "https://auth.example.com", mode: "token" });
 * await client.login({ username: "hero", password: "secret123" });
 * const response = await client.fetch("https://api.example.com/me");
 * ```
 */
export { type ClientMode, type ClientOptions, createClient, TesseraClient } from "./client.js";
export type { ChannelLike, LockManagerLike } from "./coordination.js";
export { type ErrorCode, type FieldIssue, TesseraError } from "./errors.js";
export type { LoginOptions, PasswordLogin } from "./routes.js";
export type { SocketEvents, SocketOptions, TesseraSocket } from "./socket.js";
export { memoryStorage, type TokenStorage, type WebStorageLike, webStorage } from "./storage.js";
export type * from "./types.js";
