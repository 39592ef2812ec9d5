/**
 * `discardBody`: reads what is left of a request body and drops it, so that the answer to
 * a refused body (413) reaches a client that writes its whole body before it reads — which
 * is what Node's `fetch` and most HTTP libraries do. Bounded: past `maxBytes` (or when the
 * declared length is already past it) it stops reading and the connection is closed after
 * the answer, as it would have been anyway.
 */
import type { IncomingMessage } from "node:http";

export function discardBody(request: IncomingMessage, maxBytes: number): Promise<void> {
  if (request.complete || request.destroyed || request.readableEnded) return Promise.resolve();
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      request.off("data", onData);
      request.off("end", done);
      request.off("error", done);
      request.off("close", done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) {
        request.pause();
        done();
      }
    };
    request.on("data", onData);
    request.on("end", done);
    request.on("error", done);
    request.on("close", done);
    request.resume();
  });
}
