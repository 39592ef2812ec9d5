/**
 * One method per route of the contract, typed by its answer. The transport (credential,
 * refresh-and-retry, sign-out) is the subclass's (`client.ts`); this file only names paths
 * and shapes, so it reads like the contract's tables.
 */
import type {
  EventPage,
  EventQuery,
  IssuedLink,
  JsonValue,
  LinkRequest,
  PublicUser,
  RedeemedLink,
  Session,
  SessionList,
  SignedIn,
  TokenPair,
} from "./types.js";

/** Password login fields; other providers take their own (`login(fields, { provider })`). */
export interface PasswordLogin {
  readonly username: string;
  readonly password: string;
  /** At most one live session per (user, deviceId): a login naming one in use ends the old session. */
  readonly deviceId?: string;
  /** Shown on the sessions page, e.g. "Work laptop". */
  readonly deviceName?: string;
}

export interface LoginOptions {
  /** A provider name (`POST /auth/login/:provider`). @default "password" */
  readonly provider?: string;
  /** Token mode: upgrade the access JWT to a session token at once (sockets need one). @default false */
  readonly upgrade?: boolean;
}

const path = (segment: string): string => encodeURIComponent(segment);

export abstract class ClientRoutes {
  abstract readonly mode: "cookie" | "token";
  protected abstract call<T>(method: string, path: string, body?: unknown): Promise<T>;
  protected abstract anonymous<T>(method: string, path: string, body?: unknown): Promise<T>;
  protected abstract signedIn(pair: TokenPair | null, signedIn: SignedIn): Promise<SignedIn>;
  protected abstract currentPair(): Promise<TokenPair | null>;

  /** `POST /auth/register`. */
  async register(input: { username: string; password: string }): Promise<PublicUser> {
    return (await this.anonymous<{ user: PublicUser }>("POST", "/auth/register", input)).user;
  }

  /**
   * Signs in. Token mode: `POST /auth/login[/:provider]` (then `/auth/upgrade` with
   * `upgrade: true`) and the pair is kept. Cookie mode: `POST /account/sign-in[/:provider]`,
   * which sets the HttpOnly cookie and returns no token.
   */
  async login(
    fields: PasswordLogin | Readonly<Record<string, JsonValue>>,
    options: LoginOptions = {},
  ): Promise<SignedIn> {
    const suffix = options.provider === undefined ? "" : `/${path(options.provider)}`;
    if (this.mode === "cookie") {
      const { session, user } = await this.anonymous<{ session: Session; user: PublicUser }>(
        "POST",
        `/account/sign-in${suffix}`,
        fields,
      );
      return this.signedIn(null, { user, sessionId: session.id });
    }
    let pair = await this.anonymous<TokenPair>("POST", `/auth/login${suffix}`, fields);
    if (options.upgrade === true) pair = await this.#upgradePair(pair);
    return this.signedIn(pair, { user: pair.user, sessionId: pair.sessionId });
  }

  /** Token mode: `POST /auth/upgrade` of the held access JWT; the new pair carries a session token. */
  async upgrade(): Promise<TokenPair> {
    const pair = await this.currentPair();
    if (pair === null) throw new TypeError("upgrade() needs a signed-in token-mode client");
    const next = await this.#upgradePair(pair);
    await this.signedIn(next, { user: next.user, sessionId: next.sessionId });
    return next;
  }

  async #upgradePair(pair: TokenPair): Promise<TokenPair> {
    if (pair.tokenType === "session") return pair;
    return this.anonymous<TokenPair>("POST", "/auth/upgrade", { token: pair.accessToken });
  }

  /** `GET /auth/session`. */
  async session(): Promise<Session> {
    return (await this.call<{ session: Session }>("GET", "/auth/session")).session;
  }

  /** `PUT /auth/session/data`: replaces the session's server-side data. */
  async setData(data: JsonValue): Promise<Session> {
    return (await this.call<{ session: Session }>("PUT", "/auth/session/data", data)).session;
  }

  /** `GET /auth/sessions`: the user's live sessions and which one is this. */
  sessions(): Promise<SessionList> {
    return this.call<SessionList>("GET", "/auth/sessions");
  }

  /** `DELETE /auth/sessions/:id`: ends one session (its sockets close at once). */
  async revokeSession(id: string): Promise<void> {
    await this.call<void>("DELETE", `/auth/sessions/${path(id)}`);
  }

  /** `POST /auth/logout-all` with `keepCurrent`: every other session ends, this one stays. */
  async logoutOthers(): Promise<void> {
    await this.call<void>("POST", "/auth/logout-all", { keepCurrent: true });
  }

  /** `POST /auth/links`: a single-use pre-authenticated URL. */
  createLink(request: LinkRequest = {}): Promise<IssuedLink> {
    return this.call<IssuedLink>("POST", "/auth/links", request);
  }

  /** Token mode: redeems a link URL as JSON and keeps its new session's pair. */
  async redeemLink(url: string): Promise<RedeemedLink> {
    if (this.mode === "cookie") throw new TypeError("In cookie mode, navigate to the link instead.");
    const redeemed = await this.anonymous<RedeemedLink>("GET", url);
    await this.signedIn(redeemed, { user: redeemed.user, sessionId: redeemed.sessionId });
    return redeemed;
  }

  /** `POST /auth/password`: every other session of the user ends. */
  async changePassword(input: { currentPassword: string; newPassword: string }): Promise<void> {
    await this.call<void>("POST", "/auth/password", input);
  }

  /** `POST /auth/reauthenticate`: proves the user again (`authenticatedAt` moves); no new session. */
  async reauthenticate(fields: { password: string } | Readonly<Record<string, JsonValue>>): Promise<Session> {
    return (await this.call<{ session: Session }>("POST", "/auth/reauthenticate", fields)).session;
  }

  /** `GET /auth/events`: the user's own security events, newest first, a page at a time. */
  events(query: EventQuery = {}): Promise<EventPage> {
    const params = new URLSearchParams();
    if (query.before !== undefined) params.set("before", query.before);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    if (query.kinds !== undefined) params.set("kind", query.kinds.join(","));
    const text = params.toString();
    return this.call<EventPage>("GET", `/auth/events${text === "" ? "" : `?${text}`}`);
  }

  /** `GET /.well-known/jwks.json`: public keys to verify access JWTs yourself. */
  jwks(): Promise<{ keys: readonly Readonly<Record<string, JsonValue>>[] }> {
    return this.anonymous("GET", "/.well-known/jwks.json");
  }

  /** `GET /healthz`. */
  health(): Promise<{ status: string }> {
    return this.anonymous("GET", "/healthz");
  }
}
