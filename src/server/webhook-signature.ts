/**
 * Webhook signatures the Standard Webhooks way (standardwebhooks.com, the scheme Svix and
 * others verify), so a receiver can use a known verifier instead of ours:
 *
 *   webhook-id:        the security event's id (the same on every retry: dedupe on it)
 *   webhook-timestamp: unix seconds of this attempt
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
 *
 * The key is the secret's bytes; a secret in the Standard Webhooks form `whsec_<base64>` is
 * decoded first, as their libraries do. The timestamp inside the signed text is what stops
 * a captured delivery from being replayed later (receivers refuse old timestamps).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** A secret shorter than this is refused at start-up (HMAC-SHA256 wants ≥ 32 bytes; 24 is Svix's floor). */
export const MIN_WEBHOOK_SECRET_BYTES = 24;

/** The HMAC key of a configured secret. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith("whsec_")
    ? Buffer.from(secret.slice("whsec_".length), "base64")
    : Buffer.from(secret);
}

export interface SignedHeaders {
  readonly "webhook-id": string;
  readonly "webhook-timestamp": string;
  readonly "webhook-signature": string;
}

export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): SignedHeaders {
  const timestamp = String(Math.floor(timestampSeconds));
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${mac}` };
}

/**
 * A receiver's check, for tests and for applications that take Tessera's webhooks: a
 * signature among the space-separated `v1,…` entries matches, and the timestamp is within
 * `toleranceSeconds` of `nowSeconds`.
 */
export function verifyWebhook(
  key: Buffer,
  headers: { readonly [name: string]: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (id === undefined || timestamp === undefined || signatures === undefined) return false;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds)
    return false;
  const expected = Buffer.from(signWebhook(key, id, Number(timestamp), body)["webhook-signature"]);
  return signatures.split(" ").some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
