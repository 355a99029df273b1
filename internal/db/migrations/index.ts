import type { RunnableMigration } from 'umzug';
import type { QueryInterface } from 'sequelize';
import * as initialSchema from './0001-initial-schema.js';

/** Listed explicitly so the same code runs from TypeScript sources and compiled output. */
export const migrations: RunnableMigration<QueryInterface>[] = [
  { name: '0001-initial-schema', ...initialSchema },
];
