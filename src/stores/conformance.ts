/**
 * The one test suite every `SessionStore` must pass, so that the engine can rely on the
 * interface alone. Each store's test file calls `describeSessionStoreConformance` with a
 * function that opens a fresh, empty store; a store written outside this project can run
 * the same suite (it is published as `tessera/testing`).
 *
 * The suite checks every operation and every outcome the interface documents, including
 * who wins a race (many concurrent calls through `Promise.all`) and that events reach
 * subscribers. Digests are random strings: a store never interprets them. The cases live
 * in `conformance/`, one file per area; this file only puts them together.
 */

import { afterEach, beforeEach, describe } from "vitest";
import { describeAccounts } from "./conformance/accounts.js";
import { describeAtomicity } from "./conformance/atomicity.js";
import { Fixture, type OpenedStore } from "./conformance/fixture.js";
import { describeIdentities } from "./conformance/identities.js";
import { describeLinks } from "./conformance/links.js";
import { describeLogs } from "./conformance/logs.js";
import { describeMaintenance } from "./conformance/maintenance.js";
import { describeRevocation } from "./conformance/revocation.js";
import { describeRotation } from "./conformance/rotation.js";
import { describeSessions } from "./conformance/sessions.js";
import { describeUsers } from "./conformance/users.js";

export type { OpenedStore } from "./conformance/fixture.js";

export function describeSessionStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} conforms to SessionStore`, () => {
    const fixture = new Fixture();
    let opened: OpenedStore | null = null;

    beforeEach(async () => {
      opened = await open();
      fixture.begin(opened, Date.now());
    });

    afterEach(async () => {
      if (opened === null) return;
      await opened.store.close();
      await opened.cleanup();
      opened = null;
    });

    describeUsers(fixture);
    describeAccounts(fixture);
    describeIdentities(fixture);
    describeSessions(fixture);
    describeRevocation(fixture);
    describeRotation(fixture);
    describeAtomicity(fixture);
    describeLinks(fixture);
    describeLogs(fixture);
    describeMaintenance(fixture);
  });
}
