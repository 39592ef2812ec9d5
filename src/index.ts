/**
 * Tessera's public library API. Re-exports only. Importing it loads no native module and no
 * database or gRPC client: the stores are `tessera-sessions/sqlite`, `tessera-sessions/redis` and
 * `tessera-sessions/postgres`, gRPC is `tessera-sessions/grpc`, and each loads its driver itself.
 */

export type { ChangePasswordInput, ReauthenticateInput } from "./engine/account.js";
export type { Authenticated } from "./engine/authenticate.js";
export type { EngineEvent } from "./engine/context.js";
export type { FreshnessOptions } from "./engine/freshness.js";
export type { HookHandler, HookName, HookPayloads, HookResults, UpgradeRequest } from "./engine/hooks.js";
export type { LinkedIdentity, ProviderIdentity, ResolveIdentityOptions } from "./engine/identities.js";
export type { IssuedLink, IssueLinkInput, LinkInfo, RedeemedLink } from "./engine/links.js";
export type { JwtOptions, TesseraOptions } from "./engine/options.js";
export type {
  AnyAuthProvider,
  MountedPluginRoute,
  PluginApi,
  PluginHooks,
  PluginRequest,
  PluginResponse,
  PluginRoute,
  PluginRouteMethod,
  TesseraPlugin,
} from "./engine/plugins.js";
export type { PartnerClaims, PartnerKey } from "./engine/providers/sign-payload.js";
export { signEncodedPayload, signPayload } from "./engine/providers/sign-payload.js";
export type {
  SignedPayloadAlgorithm,
  SignedPayloadInput,
  SignedPayloadOptions,
  SignedPayloadPartner,
} from "./engine/providers/signed-payload.js";
export { SIGNED_PAYLOAD_CONTEXT, signedPayloadProvider } from "./engine/providers/signed-payload.js";
export type { AuthProvider, LinkRedemption, ProviderContext, ProviderResult } from "./engine/providers.js";
export type { RegisterInput } from "./engine/register.js";
export { Tessera } from "./engine/tessera.js";
export type { ThrottleOptions } from "./engine/throttle.js";
export type {
  JsonValue,
  LoginInput,
  PublicUser,
  RefreshOptions,
  RequestMetadata,
  Session,
  SessionMetadata,
  SessionTokenType,
  StartSessionInput,
  TokenPair,
  ValidatedSession,
} from "./engine/types.js";
export type { ErrorCode, FieldIssue } from "./errors.js";
export { ERROR_CODES, isTesseraError, TesseraError, toTesseraError } from "./errors.js";
export { MemoryStore } from "./stores/memory/memory-store.js";
export type { IdentityKey, SessionStore, StoreEvent, StoreEventFeed } from "./stores/session-store.js";
export { StoreOpenError } from "./stores/session-store.js";
// The HTTP surface's framework-free pieces, for guards on frameworks Tessera has no adapter for.
export {
  type AuthContext,
  type AuthOptions,
  type AuthRequest,
  authenticate,
  type Credential,
  CSRF_HEADER,
  checkCsrf,
  extractCredential,
} from "./surfaces/http/auth.js";
export { clearedSessionCookie, readCookie, SESSION_COOKIE, sessionCookie } from "./surfaces/http/cookies.js";
export {
  clientError,
  type ErrorBody,
  type ErrorResponse,
  errorResponse,
  HTTP_STATUS,
} from "./surfaces/http/errors.js";
export { WEBSOCKET_CLOSE_CODE } from "./surfaces/socket/close-codes.js";
export type { ClientFrame, ServerFrame } from "./surfaces/socket/frames.js";
export { type GateContext, type GateHandler, GateRegistry } from "./surfaces/socket/gates.js";
export type { SocketLogger, SocketOptions } from "./surfaces/socket/socket-options.js";
export { startTcpGateway, type TcpGateway, type TcpGatewayOptions } from "./surfaces/socket/tcp.js";
export {
  attachWebSocketGateway,
  type WebSocketGateway,
  type WebSocketGatewayOptions,
} from "./surfaces/socket/websocket.js";
export type { AccessClaims } from "./tokens/jwt.js";
export type { SigningAlgorithm } from "./tokens/keys.js";
export { SIGNING_ALGORITHMS } from "./tokens/keys.js";
