/**
 * better-auth's `getSession`, in a process of its own (forked by `better-auth.ts`): its
 * AsyncLocalStorage slows every `await` in a process, which would slow the other
 * candidates of a shared one. A user signed up with email and password on the memory
 * adapter; each operation is `auth.api.getSession` with that user's session cookie.
 * Answers `{ ready: true }` (or `{ skipped }` when better-auth is not installed), then the
 * ops/s of each `{ ms }` round asked over IPC.
 */
import { timed } from "./measure.js";

type BetterAuth = {
  api: {
    signUpEmail(input: { body: Record<string, string>; asResponse: true }): Promise<Response>;
    getSession(input: { headers: Headers }): Promise<{ user: { email: string } } | null>;
  };
};

/** Loaded by name at run time: a checkout without the dev dependency still compiles. */
const load = (specifier: string): Promise<unknown> => import(specifier);

async function setUp(): Promise<() => Promise<unknown>> {
  const { betterAuth } = (await load("better-auth")) as {
    betterAuth: (options: object) => BetterAuth;
  };
  const { memoryAdapter } = (await load("better-auth/adapters/memory")) as {
    memoryAdapter: (db: object) => unknown;
  };
  const auth = betterAuth({
    database: memoryAdapter({ user: [], session: [], account: [], verification: [] }),
    emailAndPassword: { enabled: true },
    secret: "bench-secret-bench-secret-bench-secret",
    baseURL: "http://127.0.0.1:3000",
    logger: { disabled: true },
  });
  const signedUp = await auth.api.signUpEmail({
    body: { email: "bench@example.com", password: "bench-password", name: "bench" },
    asResponse: true,
  });
  const cookie = signedUp.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
  const headers = new Headers({ cookie });
  if ((await auth.api.getSession({ headers }))?.user.email !== "bench@example.com")
    throw new Error("better-auth getSession did not find the session");
  return () => auth.api.getSession({ headers });
}

let op: () => Promise<unknown>;
try {
  op = await setUp();
  process.send?.({ ready: true });
} catch (error) {
  process.send?.({ skipped: error instanceof Error ? error.message : String(error) });
  process.exit(0);
}
process.on("message", (message: { ms?: number; exit?: true }) => {
  if (message.exit) process.exit(0);
  void timed(op, message.ms ?? 300).then((opsPerSecond) => process.send?.({ opsPerSecond }));
});
