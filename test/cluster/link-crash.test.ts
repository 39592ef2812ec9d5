/**
 * A `tessera serve` process SIGKILLed during concurrent link redemptions, then started again
 * on the same data (issue 11, item 7), on SQLite, PostgreSQL and Redis. A store's
 * `redeemLink` consumes the link and writes its session in one atomic step, so whatever the
 * kill interrupts, every link is afterwards either unused (and redeemable exactly once) or
 * used with its session live and carrying the link's data — never used without a session.
 *
 * The kill is driven by events, not time: every redemption request (each link twice, each on
 * its own connection) has been written, and a chosen number of answers — picked by
 * fast-check — has come back; the rest are in flight when the process dies.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_DATABASE_URL } from "../postgres-kit.js";
import { type Answer, call } from "./multi-node.js";
import { startNode, startRedis, type TesseraNode } from "./processes.js";

const LINKS = 16;
const REQUESTS_PER_LINK = 2;
const RUNS = 3;

interface CrashStore {
  readonly args: readonly string[];
  close(): Promise<void>;
}

const stores: Record<string, () => Promise<CrashStore>> = {
  async sqlite() {
    const dir = mkdtempSync(join(tmpdir(), "tessera-link-crash-"));
    return {
      args: ["--database", join(dir, "tessera.db")],
      close: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  async postgres() {
    const database = `tessera_crash_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${database}`;
    return {
      args: ["--store", "postgres", "--database-url", url.toString()],
      async close() {
        // FORCE: the killed process's connections may not have been closed yet.
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.end();
      },
    };
  },
  async redis() {
    const redis = await startRedis();
    return { args: ["--store", "redis", "--redis-url", redis.url], close: () => redis.stop() };
  },
};

/** A redemption's outcome as its client saw it: the answer, or none (the process died first). */
type Seen = { readonly status: number; readonly body: Record<string, unknown> } | null;

/**
 * Sends every redemption at once and SIGKILLs the node once all are written and `answersBeforeKill`
 * answers have arrived. Resolves with what each client saw, and how many were in flight at the kill.
 */
async function redeemAndKill(
  node: TesseraNode,
  paths: readonly string[],
  answersBeforeKill: number,
): Promise<{ seen: Seen[]; inFlightAtKill: number }> {
  let written = 0;
  let answered = 0;
  let inFlightAtKill = -1;
  let killed: Promise<void> | null = null;
  const maybeKill = () => {
    if (killed !== null || written < paths.length || answered < answersBeforeKill) return;
    inFlightAtKill = paths.length - answered;
    killed = node.kill();
  };
  const seen = await Promise.all(
    paths.map(
      (path) =>
        new Promise<Seen>((resolve) => {
          const req = request(`${node.http}${path}`, {
            agent: false,
            headers: { accept: "application/json" },
          });
          req.on("finish", () => {
            written += 1;
            maybeKill();
          });
          req.on("response", (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("error", () => resolve(null));
            response.on("end", () => {
              answered += 1;
              maybeKill();
              const text = Buffer.concat(chunks).toString();
              resolve({
                status: response.statusCode ?? 0,
                body: JSON.parse(text) as Record<string, unknown>,
              });
            });
          });
          req.on("error", () => resolve(null));
          req.end();
        }),
    ),
  );
  maybeKill();
  await killed;
  return { seen, inFlightAtKill };
}

/** Redeems a link as an API client does (JSON, not the browser's redirect). */
async function redeemNow(node: TesseraNode, path: string): Promise<Answer> {
  const response = await fetch(node.http + path, { headers: { accept: "application/json" } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function sessionData(answer: Answer | Seen): unknown {
  return (answer?.body.session as { data?: unknown } | undefined)?.data;
}

describe.each(
  Object.keys(stores),
)("a serve process SIGKILLed during concurrent link redemptions (%s)", (kind) => {
  let store: CrashStore;
  let node: TesseraNode | null = null;
  afterAll(async () => {
    await node?.stop();
    await store?.close();
  });

  it("leaves every link unused and redeemable once, or used with its session live and its data", async () => {
    store = await (stores[kind] as () => Promise<CrashStore>)();
    node = await startNode(store.args);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: LINKS }), async (answersBeforeKill) => {
        const before = node as TesseraNode;
        run += 1;
        const username = `crash${run}-${randomBytes(3).toString("hex")}`;
        const credentials = { username, password: "a long enough secret" };
        expect((await call(before, "POST", "/auth/register", { body: credentials })).status).toBe(201);
        const login = await call(before, "POST", "/auth/login", { body: credentials });
        const jwt = login.body.accessToken as string;
        const paths: string[] = [];
        for (let n = 0; n < LINKS; n++) {
          const issued = await call(before, "POST", "/auth/links", { token: jwt, body: { data: { n } } });
          expect(issued.status).toBe(201);
          paths.push(new URL(issued.body.url as string).pathname);
        }

        const requests = paths.flatMap((path) => Array<string>(REQUESTS_PER_LINK).fill(path));
        const { seen, inFlightAtKill } = await redeemAndKill(before, requests, answersBeforeKill);
        expect(inFlightAtKill).toBeGreaterThanOrEqual(requests.length - LINKS);

        const after = await startNode(store.args);
        node = after;
        const live = await call(after, "GET", "/auth/sessions", { token: jwt });
        expect(live.status).toBe(200);
        const sessions = live.body.sessions as { data: unknown; authMethods: string[] }[];
        for (const [n, path] of paths.entries()) {
          const answers = seen.filter((_, i) => requests[i] === path);
          const redeemed = answers.filter((answer) => answer?.status === 200);
          // Any answer that did arrive is one of the two a link can give.
          for (const answer of answers) if (answer !== null) expect([200, 410]).toContain(answer.status);
          expect(redeemed.length, `link ${n} redeemed by more than one request`).toBeLessThanOrEqual(1);
          const fromLink = sessions.filter((session) => (session.data as { n?: number } | null)?.n === n);
          const state = (await call(after, "HEAD", path)).status;
          if (state === 410) {
            // Used: exactly one session made from it, live, with the link's data.
            expect(fromLink, `link ${n} is used but has no session`).toHaveLength(1);
            expect(fromLink[0]?.authMethods).toEqual(["link"]);
            for (const answer of redeemed) {
              const token = answer?.body.accessToken as string;
              const check = await call(after, "GET", "/auth/session", { token });
              expect(check.status).toBe(200);
              expect(sessionData(check)).toEqual({ n });
            }
          } else {
            // Unused: nobody was told it was redeemed, and it redeems now, exactly once.
            expect(state, `link ${n}`).toBe(200);
            expect(redeemed, `link ${n} answered 200 but is unused`).toHaveLength(0);
            expect(fromLink).toHaveLength(0);
            const now = await redeemNow(after, path);
            expect(now.status).toBe(200);
            expect(sessionData(now)).toEqual({ n });
            expect((await redeemNow(after, path)).status).toBe(410);
          }
        }
      }),
      { numRuns: RUNS },
    );
  }, 180_000);
});
