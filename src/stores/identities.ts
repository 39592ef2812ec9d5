/**
 * What the stores share about provider identities: the order `listIdentities` answers in,
 * the one-string form of a key for stores that index by string (memory, Redis), and the
 * SQL row (SQLite and PostgreSQL have the same columns).
 */
import type { IdentityKey, IdentityRecord } from "./session-store.js";

/** Oldest first, then by provider, issuer and subject (code-unit order, as SQL's binary collation for ASCII). */
export function compareIdentities(a: IdentityRecord, b: IdentityRecord): number {
  return (
    a.createdAt - b.createdAt ||
    compare(a.provider, b.provider) ||
    compare(a.issuer, b.issuer) ||
    compare(a.subject, b.subject)
  );
}

/** An unambiguous string for the key: any character may occur in any part. */
export function identityField(key: IdentityKey): string {
  return JSON.stringify([key.provider, key.issuer, key.subject]);
}

/** Just the key's three parts (a record carries more). */
export function identityKeyOf(key: IdentityKey): IdentityKey {
  return { provider: key.provider, issuer: key.issuer, subject: key.subject };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A row of the `identities` table (SQLite and PostgreSQL). */
export interface IdentityRow {
  readonly provider: string;
  readonly issuer: string;
  readonly subject: string;
  readonly user_id: number;
  readonly created_at: number;
}

export function identityFromRow(row: IdentityRow): IdentityRecord {
  return {
    provider: row.provider,
    issuer: row.issuer,
    subject: row.subject,
    userId: row.user_id,
    createdAt: row.created_at,
  };
}

export function identityToRow(identity: IdentityRecord): IdentityRow {
  return {
    provider: identity.provider,
    issuer: identity.issuer,
    subject: identity.subject,
    user_id: identity.userId,
    created_at: identity.createdAt,
  };
}
