/**
 * Migration 2: provider identities — (provider, issuer, subject) linked to a user, apart
 * from usernames. A deleted user's identities go with the user's row (ON DELETE CASCADE).
 * No rows for users made by providers before: which partner vouched for them is recorded
 * nowhere, so an operator links them (`tessera users link`) or a partner configured to
 * adopts them on its next login (see `engine/identities.ts`). Text compared or ordered uses
 * the binary "C" collation, as in every other store.
 */
export const sql = `
CREATE TABLE identities (
  provider text COLLATE "C" NOT NULL,
  issuer text COLLATE "C" NOT NULL,
  subject text COLLATE "C" NOT NULL,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  PRIMARY KEY (provider, issuer, subject)
);
CREATE INDEX identities_by_user ON identities (user_id, created_at);
`;
