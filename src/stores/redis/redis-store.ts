/**
 * A `SessionStore` on Redis (one server or Redis Cluster), through node-redis — the client
 * the Redis project maintains and recommends for new code, with Cluster, scripts and
 * per-command timeouts built in. Its commands stay in `redis-connection.ts`.
 *
 * How the guarantees hold:
 * - Every operation that touches more than one key is one Lua script (`redis-scripts.ts`)
 *   on the slot of the user it concerns: read and check first, write last. Lookups from a
 *   digest or session id go through a single index key naming the user; the script then
 *   re-checks the record itself, so a stale index entry can only lead to "not found".
 * - Revoke-all bumps the user's generation, so a session missing from the index is still
 *   refused; updates are conditional on a live record and only add fields, so nothing is
 *   written back into existence and no TTL is removed.
 * - Invalidations go into a Redis Stream (`redis-event-feed.ts`). On one Redis they are
 *   written by the script of the change itself. On Cluster the stream lives in the `{d}`
 *   slot, which a user's script cannot write, so they follow in a second command right
 *   after it: the one documented gap is a process dying between the two (the change is
 *   made, other nodes hear of it only through their lease and read-through).
 * - The engine takes `now` from `clock`, Redis's `TIME` measured against the local clock,
 *   so every node agrees on grace windows and expiry.
 */

import { randomUUID } from "node:crypto";
import { compareIdentities, identityField, identityKeyOf } from "../identities.js";
import type {
  CreateSessionInput,
  DenylistEntry,
  FailureCount,
  IdentityKey,
  IdentityRecord,
  JsonValue,
  LinkIdentityOutcome,
  LinkRecord,
  NewLink,
  NewUser,
  NewWebhookDelivery,
  RedeemLinkInput,
  RedeemLinkOutcome,
  ReissueSessionInput,
  RevokeUserSessionsInput,
  RotateOutcome,
  RotateRefreshInput,
  SecurityEventQuery,
  SecurityEventRecord,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
  StoreEvent,
  StoreEventFeed,
  UpgradeOutcome,
  UpgradeSessionInput,
  UserRecord,
  WebhookDelivery,
} from "../session-store.js";
import { RETENTION_MS, StoreOpenError } from "../session-store.js";
import { RedisConnection, type Reply, redactUrl } from "./redis-connection.js";
import { RedisEventFeed } from "./redis-event-feed.js";
import { RedisKeys } from "./redis-keys.js";
import {
  eventFromFields,
  fieldsOf,
  linkFields,
  linkFrom,
  sessionFields,
  sessionFrom,
  signingKeyFields,
  signingKeyFrom,
  toFields,
  userFrom,
  webhookFrom,
} from "./redis-records.js";
import { unsafeRedisReason } from "./redis-safety.js";
import type { Script } from "./redis-scripts.js";
import * as S from "./redis-scripts.js";

export interface RedisStoreOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  readonly url: string;
  /** Prefix of every key. @default "tessera:" */
  readonly keyPrefix?: string;
  /** How long the event feed may go without confirming the log before `isCurrent()` is false. @default 1000 */
  readonly revocationLeaseMs?: number;
  /** Development only: start on a Redis that may evict keys or keeps nothing on disk. @default false */
  readonly allowUnsafeRedis?: boolean;
  /** Every command rejects after this long, so no call hangs. @default 2000 */
  readonly commandTimeoutMs?: number;
  /** Redis Cluster: the nodes to discover it from (URLs). */
  readonly cluster?: { readonly rootNodes: readonly string[] };
}

/** Records outlive their end by RETENTION_MS in the store's own purge; Redis TTLs add a week. */
const TTL_MARGIN_MS = 7 * 24 * 60 * 60 * 1000;
const STREAM_MAXLEN = "100000";
const CLOCK_REFRESH_MS = 10_000;

interface WriteResult {
  readonly body: Reply;
  readonly events: StoreEvent[];
}

export class RedisStore implements SessionStore {
  readonly name: string;
  readonly events: StoreEventFeed;
  readonly clock: () => number;
  readonly #redis: RedisConnection;
  readonly #keys: RedisKeys;
  readonly #feed: RedisEventFeed;
  readonly #origin: string;
  #offsetMs = 0;
  #clockTimer: NodeJS.Timeout | null = null;
  #closed = false;

  /** Connects, checks that Redis is safe for Tessera, and starts following the event log. */
  static async open(options: RedisStoreOptions): Promise<RedisStore> {
    const shown = redactUrl(options.cluster?.rootNodes[0] ?? options.url);
    const commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    const leaseMs = options.revocationLeaseMs ?? 1000;
    if (!(leaseMs > 0) || !(commandTimeoutMs > 0)) {
      throw new TypeError("revocationLeaseMs and commandTimeoutMs must be positive numbers");
    }
    const keys = new RedisKeys(options.keyPrefix ?? "tessera:");
    let connection: RedisConnection;
    try {
      connection = await RedisConnection.open({
        url: options.url,
        commandTimeoutMs,
        ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new StoreOpenError(`cannot connect to Redis at ${shown}: ${reason}`, { cause: error });
    }
    try {
      if (options.allowUnsafeRedis !== true) {
        const unsafe = await unsafeRedisReason(connection);
        if (unsafe !== null) {
          throw new StoreOpenError(
            `refusing to use Redis at ${shown}: ${unsafe} --allow-unsafe-redis (TESSERA_ALLOW_UNSAFE_REDIS=1)`,
          );
        }
      }
      const store = new RedisStore(connection, keys, shown, leaseMs);
      await store.#start();
      return store;
    } catch (error) {
      connection.close();
      if (error instanceof StoreOpenError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new StoreOpenError(`cannot open the Redis store at ${shown}: ${reason}`, { cause: error });
    }
  }

  private constructor(connection: RedisConnection, keys: RedisKeys, shown: string, leaseMs: number) {
    this.name = `redis:${shown}`;
    this.#redis = connection;
    this.#keys = keys;
    this.#origin = randomUUID();
    this.clock = () => Date.now() + this.#offsetMs;
    this.#feed = new RedisEventFeed({
      connection,
      streamKey: keys.d("events"),
      epochKey: keys.d("epoch"),
      origin: this.#origin,
      leaseMs,
      ensureEpoch: () => this.#ensureEpoch(),
    });
    this.events = this.#feed;
  }

  async #start(): Promise<void> {
    const epoch = await this.#ensureEpoch();
    this.#feed.setEpoch(epoch);
    await this.#measureClock();
    await this.#indexLogByUser();
    this.#clockTimer = setInterval(() => {
      this.#measureClock().catch(() => {});
    }, CLOCK_REFRESH_MS).unref();
    await this.#feed.start();
  }

  /**
   * Security events written before the log had per-user indexes go into them once (the
   * first store to open a data set without the mark does it, a chunk at a time; indexing
   * twice is harmless). Events appended meanwhile index themselves.
   */
  async #indexLogByUser(): Promise<void> {
    const mark = this.#keys.d("log:by-user");
    if (Number(await this.#redis.send(mark, ["EXISTS", mark])) === 1) return;
    const [data, log] = this.#logKeys() as [string, string, string];
    let after = "-";
    for (;;) {
      const ids = (await this.#redis.send(log, [
        "ZRANGEBYLEX",
        log,
        after,
        "+",
        "LIMIT",
        "0",
        "500",
      ])) as string[];
      if (ids.length === 0) break;
      await this.#redis.run(
        S.INDEX_EVENTS,
        [data, this.#keys.d("log:user:")],
        ["0", this.#origin, STREAM_MAXLEN, ...ids],
      );
      after = `(${ids[ids.length - 1]}`;
    }
    await this.#redis.send(mark, ["SET", mark, "1"]);
  }

  /** The epoch key marks this Redis's data set; a Redis that came back empty has none. */
  async #ensureEpoch(): Promise<string> {
    const key = this.#keys.d("epoch");
    await this.#redis.send(key, ["SET", key, randomUUID(), "NX"]);
    return String(await this.#redis.send(key, ["GET", key]));
  }

  /** Offset of Redis's clock from ours, taken at the midpoint of a TIME round trip. */
  async #measureClock(): Promise<void> {
    const sent = Date.now();
    const reply = (await this.#redis.send(this.#keys.d("epoch"), ["TIME"])) as [string, string];
    const received = Date.now();
    const server = Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
    // Whole milliseconds: times are integers everywhere (and PXAT takes no fractions).
    this.#offsetMs = Math.round(server - (sent + received) / 2);
  }

  // Users

  async createUser(user: NewUser): Promise<UserRecord | null> {
    this.#assertOpen();
    return this.#registerUser(user, (id) => ({
      script: S.REGISTER_USER,
      keys: [this.#keys.d("users:byname"), this.#keys.d("users")],
      args: [user.usernameKey, String(id)],
    }));
  }

  /**
   * The record is written first under a fresh id, so the moment the username is taken it
   * names a complete user; then `registration` (a script on the deployment slot) decides,
   * and a lost race deletes the unreachable record again.
   */
  async #registerUser(
    user: NewUser,
    registration: (id: number) => { script: Script; keys: string[]; args: string[] },
  ): Promise<UserRecord | null> {
    const id = Number(await this.#send(this.#keys.d("users:next"), ["INCR", this.#keys.d("users:next")]));
    const record: UserRecord = { ...user, id, disabledAt: null };
    const u = this.#keys.userKeys(id);
    await this.#send(u.user, ["HSET", u.user, ...toFields({ ...record })]);
    const { script, keys, args } = registration(id);
    const won = await this.#redis.run(script, keys, ["0", this.#origin, STREAM_MAXLEN, ...args]);
    if (won === 1) return record;
    await this.#send(u.user, ["DEL", u.user]);
    return null;
  }

  async findUserByUsernameKey(usernameKey: string): Promise<UserRecord | null> {
    this.#assertOpen();
    const byname = this.#keys.d("users:byname");
    const id = await this.#send(byname, ["HGET", byname, usernameKey]);
    if (id === null) return null;
    const user = await this.#userById(Number(id));
    return user?.usernameKey === usernameKey ? user : null;
  }

  async findUserById(id: number): Promise<UserRecord | null> {
    this.#assertOpen();
    return this.#userById(id);
  }

  async listUsers(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<UserRecord[]> {
    this.#assertOpen();
    const offset = options.offset ?? 0;
    const stop = options.limit === undefined ? -1 : offset + options.limit - 1;
    if (options.limit === 0) return [];
    const users = this.#keys.d("users");
    const ids = (await this.#send(users, ["ZRANGE", users, String(offset), String(stop)])) as string[];
    const found = await Promise.all(ids.map((id) => this.#userById(Number(id))));
    return found.filter((user): user is UserRecord => user !== null);
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<boolean> {
    this.#assertOpen();
    const u = this.#keys.userKeys(userId);
    const { body } = await this.#write(S.UPDATE_USER, [u.user], ["password", passwordHash]);
    return body === 1;
  }

  async disableUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    const body = await this.#revokeUser(userId, "disable", "user_disabled", now, denyUntil, null);
    return body === null ? null : body.revoked;
  }

  async enableUser(userId: number): Promise<boolean> {
    this.#assertOpen();
    const u = this.#keys.userKeys(userId);
    const { body } = await this.#write(S.UPDATE_USER, [u.user], ["enable", ""]);
    return body === 1;
  }

  async deleteUser(userId: number, now: number, denyUntil: number): Promise<SessionRecord[] | null> {
    this.#assertOpen();
    const body = await this.#revokeUser(userId, "delete", "user_deleted", now, denyUntil, null);
    if (body === null) return null;
    const [usernameKey, linkHashes] = body.extra as [string, string[]];
    // Other slots: the username, the link lookups and the username's failure counter.
    await this.#redis.run(
      S.UNREGISTER_USER,
      [
        this.#keys.d("users:byname"),
        this.#keys.d("users"),
        this.#keys.d("identities"),
        this.#identitySet(userId),
      ],
      ["0", this.#origin, STREAM_MAXLEN, usernameKey, String(userId)],
    );
    await Promise.all(
      linkHashes.map((hash) => this.#send(this.#keys.linkIndex(hash), ["DEL", this.#keys.linkIndex(hash)])),
    );
    await this.clearFailures(`u:${usernameKey}`);
    return body.revoked.map((session) => ({ ...session, data: null }));
  }

  // Provider identities: one hash in the deployment slot, field `identityField(key)`,
  // value "userId:createdAt", and a set of fields per user (for listing and deletion).

  async createUserWithIdentity(user: NewUser, identity: IdentityKey): Promise<UserRecord | null> {
    this.#assertOpen();
    return this.#registerUser(user, (id) => ({
      script: S.REGISTER_IDENTITY_USER,
      keys: [
        this.#keys.d("users:byname"),
        this.#keys.d("users"),
        this.#keys.d("identities"),
        this.#identitySet(id),
      ],
      args: [user.usernameKey, String(id), identityField(identity), `${id}:${user.createdAt}`],
    }));
  }

  async linkIdentity(identity: IdentityRecord): Promise<LinkIdentityOutcome> {
    this.#assertOpen();
    const reply = (await this.#redis.run(
      S.LINK_IDENTITY,
      [this.#keys.d("users"), this.#keys.d("identities"), this.#identitySet(identity.userId)],
      [
        "0",
        this.#origin,
        STREAM_MAXLEN,
        String(identity.userId),
        identityField(identity),
        `${identity.userId}:${identity.createdAt}`,
      ],
    )) as string[];
    const key = identityKeyOf(identity);
    if (reply[0] === "no_user") return { kind: "no_user" };
    if (reply[0] === "linked") {
      return { kind: "linked", identity: { ...key, userId: identity.userId, createdAt: identity.createdAt } };
    }
    return { kind: "taken", identity: identityFrom(key, String(reply[1])) };
  }

  async findIdentity(key: IdentityKey): Promise<IdentityRecord | null> {
    this.#assertOpen();
    const hash = this.#keys.d("identities");
    const value = await this.#send(hash, ["HGET", hash, identityField(key)]);
    return value === null ? null : identityFrom(identityKeyOf(key), String(value));
  }

  async listIdentities(userId: number): Promise<IdentityRecord[]> {
    this.#assertOpen();
    const set = this.#identitySet(userId);
    const fields = (await this.#send(set, ["SMEMBERS", set])) as string[];
    if (fields.length === 0) return [];
    const hash = this.#keys.d("identities");
    const values = (await this.#send(hash, ["HMGET", hash, ...fields])) as (string | null)[];
    const found: IdentityRecord[] = [];
    fields.forEach((field, i) => {
      const value = values[i];
      if (value === null || value === undefined) return;
      const [provider, issuer, subject] = JSON.parse(field) as [string, string, string];
      const identity = identityFrom({ provider, issuer, subject }, value);
      if (identity.userId === userId) found.push(identity);
    });
    return found.sort(compareIdentities);
  }

  async unlinkIdentity(key: IdentityKey): Promise<boolean> {
    this.#assertOpen();
    const reply = await this.#redis.run(
      S.UNLINK_IDENTITY,
      [this.#keys.d("identities"), this.#keys.d("identities:u:")],
      ["0", this.#origin, STREAM_MAXLEN, identityField(key)],
    );
    return reply === 1;
  }

  #identitySet(userId: number): string {
    return this.#keys.d(`identities:u:${userId}`);
  }

  // Sessions

  async createSession(input: CreateSessionInput): Promise<{ session: SessionRecord; replaced: string[] }> {
    this.#assertOpen();
    const { session } = input;
    const release = await this.#claimIndexes(
      session.userId,
      session.id,
      input.refreshToken.hash,
      session.sessionTokenHash,
      session.maxExpiresAt,
    );
    try {
      const u = this.#keys.userKeys(session.userId);
      const { body } = await this.#write(
        S.CREATE_SESSION,
        [
          u.user,
          u.gen,
          u.idx,
          u.session(session.id),
          u.refresh(input.refreshToken.hash),
          u.refreshSet(session.id),
        ],
        [u.base, ...this.#sessionArgs(input)],
      );
      return { session: this.#created(input), replaced: strings(body) };
    } catch (error) {
      await release();
      throw error;
    }
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    const userId = await this.#userOfSession(id);
    return userId === null ? null : this.#readSession(userId, id);
  }

  async findSessionByTokenHash(hash: string): Promise<SessionRecord | null> {
    this.#assertOpen();
    const index = await this.#send(this.#keys.tokenIndex(hash), ["GET", this.#keys.tokenIndex(hash)]);
    if (index === null) return null;
    const [userId, sessionId] = splitIndex(String(index));
    const session = await this.#readSession(userId, sessionId);
    // The index may be stale (the token was rotated): the record decides.
    return session?.sessionTokenHash === hash ? session : null;
  }

  async listSessions(userId: number, now: number): Promise<SessionRecord[]> {
    this.#assertOpen();
    const u = this.#keys.userKeys(userId);
    const reply = (await this.#redis.run(
      S.LIST_SESSIONS,
      [u.idx, u.gen],
      ["0", this.#origin, STREAM_MAXLEN, u.base],
    )) as Reply[];
    return newestFirst(reply.map((flat) => sessionFrom(fieldsOf(flat))).filter((s) => isLive(s, now)));
  }

  async listAllSessions(now: number, options: { readonly limit?: number } = {}): Promise<SessionRecord[]> {
    this.#assertOpen();
    const users = this.#keys.d("users");
    const ids = (await this.#send(users, ["ZRANGE", users, "0", "-1"])) as string[];
    const lists = await Promise.all(ids.map((id) => this.listSessions(Number(id), now)));
    const all = newestFirst(lists.flat());
    return options.limit === undefined ? all : all.slice(0, options.limit);
  }

  async upgradeSession(input: UpgradeSessionInput): Promise<UpgradeOutcome> {
    this.#assertOpen();
    const userId = await this.#userOfSession(input.sessionId);
    if (userId === null) return { kind: "not_live" };
    // Index entries outlive the token they lead to; the script clamps the token to the cap.
    const maxExpiresAt = input.refreshToken.expiresAt;
    const release = await this.#claimIndexes(
      userId,
      null,
      input.refreshToken.hash,
      input.sessionTokenHash,
      maxExpiresAt,
      input.sessionId,
    );
    const u = this.#keys.userKeys(userId);
    let body: Reply;
    try {
      ({ body } = await this.#write(
        S.UPGRADE,
        [
          u.jti(input.jti),
          u.session(input.sessionId),
          u.gen,
          u.refresh(input.refreshToken.hash),
          u.refreshSet(input.sessionId),
        ],
        [
          u.base,
          String(input.now),
          String(input.jtiExpiresAt),
          String(Math.ceil(input.jtiExpiresAt + TTL_MARGIN_MS)),
          input.sessionTokenHash,
          input.metadata === undefined ? "" : JSON.stringify(input.metadata),
          String(ttlAt(maxExpiresAt)),
          input.refreshToken.hash,
          String(input.refreshToken.createdAt),
          String(input.refreshToken.expiresAt),
          `jti:${input.jti}`,
        ],
      ));
    } catch (error) {
      await release();
      throw error;
    }
    const [kind, flat] = body as [string, Reply];
    if (kind !== "upgraded") {
      await release();
      return { kind: kind as "jti_used" | "not_live" | "already_upgraded" };
    }
    return { kind: "upgraded", session: sessionFrom(fieldsOf(flat)) };
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateOutcome> {
    this.#assertOpen();
    const index = await this.#send(this.#keys.refreshIndex(input.oldHash), [
      "GET",
      this.#keys.refreshIndex(input.oldHash),
    ]);
    if (index === null) return { kind: "not_found" };
    const [userId, sessionId] = splitIndex(String(index));
    if (input.sessionId != null && input.sessionId !== sessionId) return { kind: "not_found" };
    // A jwt session ignores the digest; its index entry then leads nowhere and expires.
    const release = await this.#claimIndexes(
      userId,
      null,
      input.successor.hash,
      input.sessionTokenHash,
      input.successor.expiresAt,
      sessionId,
    );
    const u = this.#keys.userKeys(userId);
    let body: Reply;
    try {
      ({ body } = await this.#write(
        S.ROTATE,
        [
          u.refresh(input.oldHash),
          u.session(sessionId),
          u.gen,
          u.refresh(input.successor.hash),
          u.refreshSet(sessionId),
        ],
        [
          u.base,
          String(input.now),
          input.sessionId ?? "",
          input.successor.hash,
          String(input.successor.createdAt),
          String(input.successor.expiresAt),
          input.sealedSuccessor,
          input.sessionTokenHash ?? "",
          String(input.expiresAt),
          "",
        ],
      ));
    } catch (error) {
      await release();
      throw error;
    }
    const [kind, flat, token, stale] = body as [string, Reply, Reply, Reply];
    if (kind !== "rotated") await release();
    switch (kind) {
      case "not_found":
        return { kind };
      case "revoked":
      case "expired":
        return { kind, session: sessionFrom(fieldsOf(flat)) };
      case "spent": {
        const [hash, spentSessionId, spentAt, sealed, successorSpent] = token as string[];
        return {
          kind,
          session: sessionFrom(fieldsOf(flat)),
          token: {
            hash: String(hash),
            sessionId: String(spentSessionId),
            spentAt: Number(spentAt),
            sealedSuccessor: sealed === "" || sealed === undefined ? null : sealed,
            successorSpent: successorSpent === "1",
          },
        };
      }
      default:
        await this.#dropTokenIndex(stale);
        return { kind: "rotated", session: sessionFrom(fieldsOf(flat)) };
    }
  }

  async reissueSession(input: ReissueSessionInput): Promise<SessionRecord | null> {
    this.#assertOpen();
    const userId = await this.#userOfSession(input.sessionId);
    if (userId === null) return null;
    const release = await this.#claimIndexes(
      userId,
      null,
      input.refreshToken.hash,
      input.sessionTokenHash,
      input.refreshToken.expiresAt,
      input.sessionId,
    );
    const u = this.#keys.userKeys(userId);
    let body: Reply;
    try {
      ({ body } = await this.#write(
        S.REISSUE,
        [
          u.session(input.sessionId),
          u.gen,
          u.refresh(input.refreshToken.hash),
          u.refreshSet(input.sessionId),
        ],
        [
          u.base,
          String(input.now),
          input.refreshToken.hash,
          String(input.refreshToken.createdAt),
          String(input.refreshToken.expiresAt),
          input.sessionTokenHash ?? "",
          String(input.expiresAt),
          "",
        ],
      ));
    } catch (error) {
      await release();
      throw error;
    }
    const [flat, stale] = body as [Reply, Reply];
    if (flat === null) {
      await release();
      return null;
    }
    await this.#dropTokenIndex(stale);
    return sessionFrom(fieldsOf(flat));
  }

  async updateSessionData(sessionId: string, data: JsonValue, now: number): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#updateSession(sessionId, now, ["data", JSON.stringify(data)]);
  }

  async markAuthenticated(
    sessionId: string,
    at: number,
    methods: readonly string[],
    now: number,
  ): Promise<SessionRecord | null> {
    this.#assertOpen();
    return this.#updateSession(sessionId, now, [
      "authenticatedAt",
      String(at),
      "authMethods",
      JSON.stringify(methods),
    ]);
  }

  async touchSession(sessionId: string, at: number): Promise<void> {
    this.#assertOpen();
    const userId = await this.#userOfSession(sessionId);
    if (userId === null) return;
    const u = this.#keys.userKeys(userId);
    await this.#redis.run(
      S.TOUCH,
      [u.session(sessionId), u.gen],
      ["0", this.#origin, STREAM_MAXLEN, String(at)],
    );
  }

  async revokeSessions(
    sessionIds: readonly string[],
    reason: string,
    now: number,
    denyUntil: number,
  ): Promise<SessionRecord[]> {
    this.#assertOpen();
    const ids = [...new Set(sessionIds)];
    const owners = await Promise.all(ids.map((id) => this.#userOfSession(id)));
    const byUser = new Map<number, string[]>();
    ids.forEach((id, i) => {
      const owner = owners[i];
      if (owner === null || owner === undefined) return;
      byUser.set(owner, [...(byUser.get(owner) ?? []), id]);
    });
    // Atomic per user (one slot each); users are independent of one another.
    const revoked = new Map<string, SessionRecord>();
    await Promise.all(
      [...byUser].map(async ([userId, userSessionIds]) => {
        const u = this.#keys.userKeys(userId);
        const { body } = await this.#write(
          S.REVOKE_SESSIONS,
          [u.gen, ...userSessionIds.map(u.session)],
          [reason, String(now), String(denyUntil), String(userSessionIds.length)],
        );
        for (const flat of body as Reply[]) {
          const session = sessionFrom(fieldsOf(flat));
          revoked.set(session.id, session);
        }
      }),
    );
    return ids.flatMap((id) => revoked.get(id) ?? []);
  }

  async revokeUserSessions(input: RevokeUserSessionsInput): Promise<SessionRecord[]> {
    this.#assertOpen();
    const body = await this.#revokeUser(
      input.userId,
      "revoke",
      input.reason,
      input.now,
      input.denyUntil,
      input.keepSessionId ?? null,
    );
    return body?.revoked ?? [];
  }

  // Access JWT denylist

  async listDenylist(now: number): Promise<DenylistEntry[]> {
    this.#assertOpen();
    const deny = this.#keys.d("deny");
    const reply = (await this.#send(deny, [
      "ZRANGEBYSCORE",
      deny,
      `(${now}`,
      "+inf",
      "WITHSCORES",
    ])) as Reply[];
    const entries: DenylistEntry[] = [];
    for (let i = 0; i < reply.length; i++) {
      const item = reply[i];
      // node-redis pairs WITHSCORES replies up; a flat reply is read two at a time.
      if (Array.isArray(item)) entries.push({ id: String(item[0]), expiresAt: Number(item[1]) });
      else entries.push({ id: String(item), expiresAt: Number(reply[++i]) });
    }
    return entries;
  }

  // Single-use links

  async createLink(link: NewLink): Promise<void> {
    this.#assertOpen();
    const u = this.#keys.userKeys(link.userId);
    const index = this.#keys.linkIndex(link.hash);
    const at = String(Math.ceil(link.expiresAt + RETENTION_MS + TTL_MARGIN_MS));
    await this.#send(index, ["SET", index, String(link.userId), "PXAT", at]);
    try {
      await this.#redis.run(
        S.CREATE_LINK,
        [u.user, u.link(link.hash), u.links],
        ["0", this.#origin, STREAM_MAXLEN, at, link.hash, ...linkFields(link)],
      );
    } catch (error) {
      await this.#send(index, ["DEL", index]).catch(() => {});
      throw error;
    }
  }

  async redeemLink(input: RedeemLinkInput): Promise<RedeemLinkOutcome> {
    this.#assertOpen();
    const index = await this.#send(this.#keys.linkIndex(input.hash), [
      "GET",
      this.#keys.linkIndex(input.hash),
    ]);
    if (index === null) return { kind: "not_found" };
    const userId = Number(index);
    const { session } = input.session;
    if (session.userId !== userId) throw new Error("redeemLink: the session is not the link's user's");
    const release = await this.#claimIndexes(
      userId,
      session.id,
      input.session.refreshToken.hash,
      session.sessionTokenHash,
      session.maxExpiresAt,
    );
    const u = this.#keys.userKeys(userId);
    let body: Reply;
    try {
      ({ body } = await this.#write(
        S.REDEEM_LINK,
        [
          u.link(input.hash),
          u.user,
          u.gen,
          u.idx,
          u.session(session.id),
          u.refresh(input.session.refreshToken.hash),
          u.refreshSet(session.id),
        ],
        [u.base, String(input.now), ...this.#sessionArgs(input.session)],
      ));
    } catch (error) {
      await release();
      throw error;
    }
    const [kind, flat, replaced] = body as [string, Reply, Reply];
    if (kind !== "redeemed") {
      await release();
      return { kind: kind as "used" | "expired" | "not_found" };
    }
    return {
      kind: "redeemed",
      link: linkFrom(fieldsOf(flat)),
      session: this.#created(input.session),
      replaced: strings(replaced),
    };
  }

  async peekLink(hash: string): Promise<LinkRecord | null> {
    this.#assertOpen();
    const index = await this.#send(this.#keys.linkIndex(hash), ["GET", this.#keys.linkIndex(hash)]);
    if (index === null) return null;
    const key = this.#keys.userKeys(Number(index)).link(hash);
    const fields = fieldsOf(await this.#send(key, ["HGETALL", key]));
    return fields.size === 0 ? null : linkFrom(fields);
  }

  // Replay protection

  async rememberNonce(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#assertOpen();
    const reply = await this.#redis.run(
      S.REMEMBER_NONCE,
      [this.#keys.d("nonces"), this.#keys.d("nonces:exp")],
      ["0", this.#origin, STREAM_MAXLEN, key, String(expiresAt), String(now)],
    );
    return reply === 1;
  }

  // Throttling

  async recordFailure(key: string, now: number, forgetAfterMs: number): Promise<FailureCount> {
    this.#assertOpen();
    const reply = await this.#redis.run(
      S.RECORD_FAILURE,
      [this.#keys.d("failures"), this.#keys.d("failures:at")],
      ["0", this.#origin, STREAM_MAXLEN, key, String(now), String(forgetAfterMs)],
    );
    return parseFailures(String(reply));
  }

  async readFailures(key: string, now: number, forgetAfterMs: number): Promise<FailureCount | null> {
    this.#assertOpen();
    const failures = this.#keys.d("failures");
    const value = await this.#send(failures, ["HGET", failures, key]);
    if (value === null) return null;
    const count = parseFailures(String(value));
    return now - count.lastFailureAt > forgetAfterMs ? null : count;
  }

  async clearFailures(key: string): Promise<void> {
    this.#assertOpen();
    await this.#redis.run(
      S.CLEAR_FAILURES,
      [this.#keys.d("failures"), this.#keys.d("failures:at")],
      ["0", this.#origin, STREAM_MAXLEN, key],
    );
  }

  // Security log

  async appendSecurityEvent(event: SecurityEventRecord): Promise<void> {
    this.#assertOpen();
    const userIndex = this.#keys.d(`log:user:${event.userId ?? "-"}`);
    await this.#redis.run(
      S.APPEND_EVENT,
      [...this.#logKeys(), userIndex],
      [
        "0",
        this.#origin,
        STREAM_MAXLEN,
        event.id,
        JSON.stringify(event),
        String(event.at),
        event.userId === null ? "0" : "1",
      ],
    );
  }

  async listSecurityEvents(query: SecurityEventQuery): Promise<SecurityEventRecord[]> {
    this.#assertOpen();
    const [data, log] = this.#logKeys() as [string, string, string];
    // A user's events come from their own index: reading one user's page never walks the
    // deployment's whole log (every sessions page asks for one).
    const ids = query.userId === undefined ? log : this.#keys.d(`log:user:${query.userId}`);
    const found: SecurityEventRecord[] = [];
    const kinds = query.kinds === undefined ? null : new Set(query.kinds);
    let upper = query.beforeId === undefined ? "+" : `(${query.beforeId}`;
    const page = 200;
    // Newest first by id, a page at a time, filtered here: the log is an audit trail read
    // by people, not a hot path.
    while (found.length < query.limit) {
      const batch = (await this.#send(ids, [
        "ZREVRANGEBYLEX",
        ids,
        upper,
        "-",
        "LIMIT",
        "0",
        String(page),
      ])) as string[];
      if (batch.length === 0) break;
      const bodies = (await this.#send(data, ["HMGET", data, ...batch])) as (string | null)[];
      for (const body of bodies) {
        if (body === null || found.length >= query.limit) continue;
        const event = JSON.parse(body) as SecurityEventRecord;
        if (query.userId !== undefined && event.userId !== query.userId) continue;
        if (kinds !== null && !kinds.has(event.kind)) continue;
        if (query.since !== undefined && event.at < query.since) continue;
        if (query.until !== undefined && event.at >= query.until) continue;
        found.push(event);
      }
      upper = `(${batch[batch.length - 1]}`;
      if (batch.length < page) break;
    }
    return found;
  }

  async pruneSecurityEvents(before: number, limit: number): Promise<number> {
    this.#assertOpen();
    const reply = await this.#redis.run(
      S.PRUNE_EVENTS,
      [...this.#logKeys(), this.#keys.d("log:user:")],
      ["0", this.#origin, STREAM_MAXLEN, String(before), String(Math.max(0, limit))],
    );
    return Number(reply);
  }

  // Webhook queue

  async enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    this.#assertOpen();
    if (deliveries.length === 0) return;
    const args = deliveries.flatMap((d) => [
      d.id,
      d.eventId,
      d.endpoint,
      d.payload,
      String(d.nextAttemptAt),
      String(d.createdAt),
    ]);
    await this.#redis.run(
      S.ENQUEUE_WEBHOOKS,
      [this.#keys.d("wh:uniq"), this.#keys.d("wh:due")],
      ["0", this.#origin, STREAM_MAXLEN, this.#keys.dBase, String(deliveries.length), ...args],
    );
  }

  async claimWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    this.#assertOpen();
    if (limit <= 0) return [];
    const reply = (await this.#redis.run(
      S.CLAIM_WEBHOOKS,
      [this.#keys.d("wh:due")],
      ["0", this.#origin, STREAM_MAXLEN, this.#keys.dBase, String(now), String(limit), String(now + leaseMs)],
    )) as Reply[];
    return reply
      .map((flat) => webhookFrom(fieldsOf(flat)))
      .sort(
        (a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1),
      );
  }

  async completeWebhook(id: string): Promise<void> {
    this.#assertOpen();
    await this.#settleWebhook(id, "complete", 0);
  }

  async retryWebhook(id: string, nextAttemptAt: number): Promise<void> {
    this.#assertOpen();
    await this.#settleWebhook(id, "retry", nextAttemptAt);
  }

  // Signing keys

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    this.#assertOpen();
    const kids = (await this.#send(this.#keys.d("keys"), ["SMEMBERS", this.#keys.d("keys")])) as string[];
    const keys = await Promise.all(
      kids.map(async (kid) => {
        const key = this.#keys.d(`key:${kid}`);
        const fields = fieldsOf(await this.#send(key, ["HGETALL", key]));
        return fields.size === 0 ? null : signingKeyFrom(fields);
      }),
    );
    return keys
      .filter((key): key is SigningKeyRecord => key !== null)
      .sort((a, b) => a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
  }

  async saveSigningKey(key: SigningKeyRecord): Promise<void> {
    this.#assertOpen();
    await this.#write(
      S.SIGNING_KEY,
      [this.#keys.d("keys")],
      [
        this.#keys.dBase,
        "save",
        key.kid,
        String(key.createdAt),
        key.retiredAt === null ? "1" : "0",
        ...signingKeyFields(key),
      ],
      true,
    );
  }

  async deleteSigningKey(kid: string): Promise<void> {
    this.#assertOpen();
    await this.#write(S.SIGNING_KEY, [this.#keys.d("keys")], [this.#keys.dBase, "delete", kid, "", ""], true);
  }

  // Maintenance

  async purgeExpired(now: number): Promise<number> {
    this.#assertOpen();
    const cutoff = now - RETENTION_MS;
    let removed = 0;
    for await (const idx of this.#redis.scan(this.#keys.userIndexPattern)) {
      const base = idx.slice(0, -"idx".length);
      const reply = (await this.#redis.run(
        S.PURGE_USER,
        [`${base}gen`, idx, `${base}links`],
        ["0", this.#origin, STREAM_MAXLEN, base, String(now), String(cutoff)],
      )) as [number, string[], string[], string[], string[]];
      const [count, sessionIds, refreshHashes, tokenHashes, linkHashes] = reply;
      removed += count;
      const stale = [
        ...sessionIds.map(this.#keys.sessionIndex),
        ...refreshHashes.map(this.#keys.refreshIndex),
        ...tokenHashes.map(this.#keys.tokenIndex),
        ...linkHashes.map(this.#keys.linkIndex),
      ];
      await Promise.all(stale.map((key) => this.#send(key, ["DEL", key])));
    }
    const d = this.#keys;
    removed += Number(
      await this.#redis.run(
        S.PURGE_DEPLOYMENT,
        [d.d("deny"), d.d("nonces"), d.d("nonces:exp"), d.d("failures"), d.d("failures:at")],
        ["0", this.#origin, STREAM_MAXLEN, String(now), String(cutoff)],
      ),
    );
    return removed;
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    await this.#send(this.#keys.d("epoch"), ["PING"]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#clockTimer !== null) clearInterval(this.#clockTimer);
    await this.#feed.stop();
    this.#redis.close();
  }

  // Internals

  #assertOpen(): void {
    if (this.#closed) throw new Error("store is closed");
  }

  #send(key: string, args: readonly string[]): Promise<Reply> {
    return this.#redis.send(key, args);
  }

  /**
   * Runs a script that may have effects (denylist entries, log entries) and emits its events
   * here once they are written. On one Redis the script writes them itself; on Cluster
   * (unless `deployment`: the script already runs on the `{d}` slot) a second script does.
   */
  async #write(
    script: Script,
    keys: readonly string[],
    args: readonly string[],
    deployment = false,
  ): Promise<WriteResult> {
    const inline = deployment || !this.#redis.isCluster;
    const allKeys = inline ? [...keys, this.#keys.d("deny"), this.#keys.d("events")] : keys;
    const reply = (await this.#redis.run(script, allKeys, [
      inline ? "1" : "0",
      this.#origin,
      STREAM_MAXLEN,
      ...args,
    ])) as [Reply, Reply[], Reply[], number];
    const [body, requested, eventList] = reply;
    let denies = requested;
    if (!inline && (requested.length > 0 || eventList.length > 0)) {
      const effectArgs = [String(requested.length / 2), ...requested.map(String)];
      for (const fields of eventList)
        effectArgs.push(String((fields as Reply[]).length), ...(fields as Reply[]).map(String));
      const applied = (await this.#redis.run(
        S.APPLY_EFFECTS,
        [this.#keys.d("deny"), this.#keys.d("events")],
        ["1", this.#origin, STREAM_MAXLEN, ...effectArgs],
      )) as [Reply, Reply[]];
      denies = applied[1];
    }
    const events: StoreEvent[] = [];
    for (const fields of eventList) {
      const event = eventFromFields(fieldsOf(fields));
      if (event !== null) events.push(event);
    }
    for (let i = 0; i + 1 < denies.length; i += 2) {
      events.push({ kind: "denied", entry: { id: String(denies[i]), expiresAt: Number(denies[i + 1]) } });
    }
    this.#feed.emitLocal(events);
    return { body, events };
  }

  async #revokeUser(
    userId: number,
    mode: "revoke" | "disable" | "delete",
    reason: string,
    now: number,
    denyUntil: number,
    keepSessionId: string | null,
  ): Promise<{ revoked: SessionRecord[]; extra: Reply } | null> {
    const u = this.#keys.userKeys(userId);
    const { body } = await this.#write(
      S.REVOKE_USER,
      [u.user, u.gen, u.idx, u.links],
      [u.base, mode, reason, String(now), String(denyUntil), keepSessionId ?? "", String(userId)],
    );
    if (body === null) return null;
    const [flats, extra] = body as [Reply[], Reply];
    return { revoked: newestFirst(flats.map((flat) => sessionFrom(fieldsOf(flat)))), extra };
  }

  async #updateSession(
    sessionId: string,
    now: number,
    fields: readonly string[],
  ): Promise<SessionRecord | null> {
    const userId = await this.#userOfSession(sessionId);
    if (userId === null) return null;
    const u = this.#keys.userKeys(userId);
    const { body } = await this.#write(
      S.UPDATE_SESSION,
      [u.session(sessionId), u.gen],
      [String(now), ...fields],
    );
    return body === null ? null : sessionFrom(fieldsOf(body));
  }

  async #userById(id: number): Promise<UserRecord | null> {
    const key = this.#keys.userKeys(id).user;
    const fields = fieldsOf(await this.#send(key, ["HGETALL", key]));
    return fields.size === 0 ? null : userFrom(fields);
  }

  async #userOfSession(sessionId: string): Promise<number | null> {
    const key = this.#keys.sessionIndex(sessionId);
    const userId = await this.#send(key, ["GET", key]);
    return userId === null ? null : Number(userId);
  }

  async #readSession(userId: number, sessionId: string): Promise<SessionRecord | null> {
    const u = this.#keys.userKeys(userId);
    const flat = await this.#redis.run(
      S.READ_SESSION,
      [u.session(sessionId), u.gen],
      ["0", this.#origin, STREAM_MAXLEN],
    );
    return flat === null ? null : sessionFrom(fieldsOf(flat));
  }

  /**
   * Writes the single-key lookups of a session before the script that makes it (a lookup
   * that leads to no matching record answers "not found", so writing them first is safe).
   * New session ids and refresh digests must be new everywhere: SET NX decides, and a clash
   * rejects before anything else is written. Returns the undo for a script that then fails.
   */
  async #claimIndexes(
    userId: number,
    newSessionId: string | null,
    refreshHash: string,
    tokenHash: string | null,
    maxExpiresAt: number,
    sessionId: string | null = newSessionId,
  ): Promise<() => Promise<void>> {
    const at = String(ttlAt(maxExpiresAt));
    const owner = `${userId}:${sessionId}`;
    const claimed: string[] = [];
    const release = async () => {
      await Promise.all(claimed.map((key) => this.#send(key, ["DEL", key]).catch(() => null)));
    };
    const claim = async (key: string, value: string, what: string) => {
      const ok = await this.#send(key, ["SET", key, value, "NX", "PXAT", at]);
      if (ok === null) throw new Error(what);
      claimed.push(key);
    };
    // In parallel: one round trip for all of them.
    const claims: Promise<void>[] = [];
    if (newSessionId !== null) {
      claims.push(
        claim(
          this.#keys.sessionIndex(newSessionId),
          String(userId),
          "createSession: session id already exists",
        ),
      );
    }
    claims.push(claim(this.#keys.refreshIndex(refreshHash), owner, "refresh token already exists"));
    if (tokenHash !== null)
      claims.push(claim(this.#keys.tokenIndex(tokenHash), owner, "session token already exists"));
    const outcomes = await Promise.allSettled(claims);
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) {
      await release();
      throw failed.reason;
    }
    return release;
  }

  async #dropTokenIndex(stale: Reply): Promise<void> {
    if (typeof stale !== "string") return;
    const key = this.#keys.tokenIndex(stale);
    await this.#send(key, ["DEL", key]).catch(() => null);
  }

  #sessionArgs(input: CreateSessionInput): string[] {
    const { session, refreshToken } = input;
    const sfields = sessionFields(session);
    const rfields = toFields({
      hash: refreshToken.hash,
      sessionId: session.id,
      createdAt: refreshToken.createdAt,
      expiresAt: Math.min(refreshToken.expiresAt, session.maxExpiresAt),
    });
    return [
      String(ttlAt(session.maxExpiresAt)),
      session.deviceId ?? "",
      String(session.createdAt),
      refreshToken.hash,
      String(sfields.length),
      ...sfields,
      String(rfields.length),
      ...rfields,
    ];
  }

  #created(input: CreateSessionInput): SessionRecord {
    const { session } = input;
    return {
      ...session,
      authMethods: [...session.authMethods],
      metadata: { ...session.metadata },
      data: structuredClone(session.data),
      expiresAt: Math.min(session.expiresAt, session.maxExpiresAt),
      revokedAt: null,
      revokedReason: null,
    };
  }

  #logKeys(): string[] {
    return [this.#keys.d("log:data"), this.#keys.d("log:ids"), this.#keys.d("log:at")];
  }

  async #settleWebhook(id: string, mode: "complete" | "retry", nextAttemptAt: number): Promise<void> {
    await this.#redis.run(
      S.SETTLE_WEBHOOK,
      [this.#keys.d("wh:uniq"), this.#keys.d("wh:due")],
      ["0", this.#origin, STREAM_MAXLEN, this.#keys.dBase, id, mode, String(nextAttemptAt)],
    );
  }
}

/** When Redis may drop a session's keys by itself: well after the store's own purge would. */
function ttlAt(maxExpiresAt: number): number {
  return Math.ceil(maxExpiresAt + RETENTION_MS + TTL_MARGIN_MS);
}

function splitIndex(value: string): [number, string] {
  const at = value.indexOf(":");
  return [Number(value.slice(0, at)), value.slice(at + 1)];
}

function strings(reply: Reply): string[] {
  return Array.isArray(reply) ? reply.map(String) : [];
}

function parseFailures(value: string): FailureCount {
  const at = value.indexOf(":");
  return { failures: Number(value.slice(0, at)), lastFailureAt: Number(value.slice(at + 1)) };
}

function isLive(session: SessionRecord, now: number): boolean {
  return session.revokedAt === null && session.expiresAt > now;
}

function newestFirst(sessions: readonly SessionRecord[]): SessionRecord[] {
  return [...sessions].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** An identity from its key and the stored "userId:createdAt". */
function identityFrom(key: IdentityKey, value: string): IdentityRecord {
  const [userId, createdAt] = value.split(":");
  return { ...key, userId: Number(userId), createdAt: Number(createdAt) };
}
