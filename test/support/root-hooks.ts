import { migrateTestDatabase } from './database.js';

/** Loaded with --require by the integration and e2e runs: the schema exists before any test. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    await migrateTestDatabase();
  },
};
