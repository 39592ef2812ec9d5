/**
 * Graceful shutdown on SIGTERM and SIGINT: the first signal closes the server (stop
 * accepting, finish in-flight requests, close the store) and exits 0, or 1 if closing
 * failed or took longer than `timeoutMs`; a second signal exits 1 at once, for an operator
 * who does not want to wait. The emitter and `exit` are parameters so that tests can send
 * signals without killing the test runner.
 */
import type { EventEmitter } from "node:events";

export interface ShutdownOptions {
  /** Where signals arrive. @default process */
  readonly emitter?: EventEmitter;
  /** @default process.exit */
  readonly exit?: (code: number) => void;
  /** @default ["SIGTERM", "SIGINT"] */
  readonly signals?: readonly string[];
  /** Give up waiting for in-flight work after this long. @default 10000 */
  readonly timeoutMs?: number;
  /** @default console.error */
  readonly log?: (line: string) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function installShutdownHandlers(
  server: { close(): Promise<void> },
  options: ShutdownOptions = {},
): () => void {
  const emitter = options.emitter ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log ?? ((line: string) => console.error(line));
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const timeoutMs = options.timeoutMs ?? 10_000;
  let shuttingDown = false;

  const onSignal = (signal: string) => {
    if (shuttingDown) {
      log(`${signal} again: exiting without waiting.`);
      exit(1);
      return;
    }
    shuttingDown = true;
    log(`${signal}: finishing in-flight requests and closing…`);
    const timer = setTimeout(() => {
      log(`Shutdown took longer than ${timeoutMs} ms; exiting.`);
      exit(1);
    }, timeoutMs);
    timer.unref();
    server.close().then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        log(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        exit(1);
      },
    );
  };
  const handlers = signals.map((signal) => {
    const handler = () => onSignal(signal);
    emitter.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) emitter.off(signal, handler);
  };
}
