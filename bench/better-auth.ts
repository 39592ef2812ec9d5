/**
 * Issue 15, target 7: session validation against better-auth's `getSession`, the peer a
 * user would pick for cookie sessions. better-auth runs in a process of its own
 * (`better-auth-process.ts`: its AsyncLocalStorage would slow this process's awaits);
 * Tessera's `validate` of a hot session token runs here. Rounds alternate, median of each.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { Tessera } from "../src/engine/tessera.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { median, note, printTable, timed } from "./measure.js";

const ROUNDS = 5;
const ROUND_MS = 500;

export async function benchBetterAuth(): Promise<void> {
  const child = fork(new URL("./better-auth-process.js", import.meta.url));
  const [hello] = (await once(child, "message")) as [{ ready?: true; skipped?: string }];
  if (hello.skipped !== undefined) {
    note(`better-auth getSession skipped: ${hello.skipped} (a dev dependency: npm ci)`);
    await once(child, "exit");
    return;
  }
  const store = new MemoryStore();
  const tessera = await Tessera.create({
    store,
    passwords: { memoryCost: 1024, timeCost: 1 },
    loginThrottle: false,
  });
  try {
    await tessera.register({ username: "bench", password: "bench-password" });
    const login = await tessera.login({ username: "bench", password: "bench-password" });
    const { accessToken } = await tessera.upgrade(login.accessToken);
    const validate = () => tessera.validate(accessToken);
    const round = async (ms: number) => {
      child.send({ ms });
      const [answer] = (await once(child, "message")) as [{ opsPerSecond: number }];
      return answer.opsPerSecond;
    };
    await timed(validate, 50);
    await round(50);
    const samples = { tessera: [] as number[], betterAuth: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      samples.tessera.push(await timed(validate, ROUND_MS));
      samples.betterAuth.push(await round(ROUND_MS));
    }
    const results = [
      { name: "tessera.validate(session token), cache hot", opsPerSecond: median(samples.tessera) },
      {
        name: "better-auth auth.api.getSession (cookie, memory adapter, own process)",
        opsPerSecond: median(samples.betterAuth),
      },
    ];
    printTable(
      `peers: session validation vs better-auth getSession (median of ${ROUNDS} alternating rounds)`,
      results,
    );
    const ratios = samples.tessera.map((value, i) => value / (samples.betterAuth[i] ?? Number.NaN));
    note(
      `tessera validate / better-auth getSession: ${(median(samples.tessera) / median(samples.betterAuth)).toFixed(0)}× (per round ${Math.round(Math.min(...ratios))}–${Math.round(Math.max(...ratios))}×)`,
    );
  } finally {
    child.send({ exit: true });
    tessera.close();
    await store.close();
  }
}
