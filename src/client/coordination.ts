/**
 * Single-flight across the tabs of one origin. A refresh takes the Web Lock `name`, so two
 * tabs whose access token expired at the same moment do not both spend the refresh token;
 * the tab that got the lock second finds the new pair already stored (or already delivered
 * over BroadcastChannel) and skips its own refresh.
 *
 * A lock that is never granted — Safari has kept locks of pages parked in the back/forward
 * cache (WebKit PR #47797), a frozen tab can hold one — must not stall the app: after
 * `timeoutMs` the request is abandoned and the work runs unlocked. That is safe because the
 * server answers every refresh of one token within its grace window (10 s) with the same
 * successor pair; the lock only saves the second request, it does not guard correctness.
 *
 * Without Web Locks (Node, old browsers) the work runs unlocked; the client's own in-tab
 * promise still makes it single-flight inside one process.
 */
import type { TokenPair } from "./types.js";

/** The part of the Web Locks API used here (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
}

/** The part of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** What tabs tell each other. `replaces` is the access token the new pair supersedes (null: a new login). */
export type TabMessage =
  | { readonly type: "tokens"; readonly pair: TokenPair; readonly replaces: string | null }
  | { readonly type: "signed_out"; readonly sessionId: string | null };

export interface CoordinatorOptions {
  readonly name: string;
  readonly locks: LockManagerLike | null;
  readonly channel: ChannelLike | null;
  readonly timeoutMs: number;
  readonly onMessage: (message: TabMessage) => void;
}

export class TabCoordinator {
  readonly #options: CoordinatorOptions;

  constructor(options: CoordinatorOptions) {
    this.#options = options;
    if (options.channel !== null) {
      options.channel.onmessage = (event) => {
        const message = event.data as TabMessage | null;
        if (message?.type === "tokens" || message?.type === "signed_out") options.onMessage(message);
      };
    }
  }

  /** Runs `work` holding the cross-tab lock, or unlocked when there is none or it is not granted in time. */
  async withLock<T>(work: () => Promise<T>): Promise<T> {
    const { locks, name, timeoutMs } = this.#options;
    if (locks === null) return work();
    let granted = false;
    try {
      return await locks.request(name, { signal: AbortSignal.timeout(timeoutMs) }, () => {
        granted = true;
        return work();
      });
    } catch (error) {
      if (granted) throw error;
      // Never granted (timed out, or the lock manager refused): the grace window covers us.
      return work();
    }
  }

  post(message: TabMessage): void {
    this.#options.channel?.postMessage(message);
  }

  close(): void {
    this.#options.channel?.close();
  }
}

/** The environment's Web Locks and a BroadcastChannel, when this looks like a page with tabs. */
export function browserCoordination(name: string): {
  locks: LockManagerLike | null;
  channel: ChannelLike | null;
} {
  const scope = globalThis as unknown as {
    document?: unknown;
    navigator?: { locks?: LockManagerLike };
    BroadcastChannel?: new (name: string) => ChannelLike;
  };
  // Tabs exist where there are documents; in Node every client is its own world (two
  // clients of two users in one process must not adopt each other's tokens).
  if (scope.document === undefined) return { locks: null, channel: null };
  return {
    locks: scope.navigator?.locks ?? null,
    channel: scope.BroadcastChannel === undefined ? null : new scope.BroadcastChannel(name),
  };
}
