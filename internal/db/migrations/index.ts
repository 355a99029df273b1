import type { RunnableMigration } from 'umzug';
import type { QueryInterface } from 'sequelize';
import * as initialSchema from './0001-initial-schema.js';
import * as numbering from './0002-numbering.js';
import * as searchOutboxQueuedAt from './0003-search-outbox-queued-at.js';
import * as deletion from './0004-deletion.js';
import * as searchTrigrams from './0005-search-trigrams.js';
import * as writeQueuePartitions from './0006-write-queue-partitions.js';

/** Listed explicitly so the same code runs from TypeScript sources and compiled output. */
export const migrations: RunnableMigration<QueryInterface>[] = [
  { name: '0001-initial-schema', ...initialSchema },
  { name: '0002-numbering', ...numbering },
  { name: '0003-search-outbox-queued-at', ...searchOutboxQueuedAt },
  { name: '0004-deletion', ...deletion },
  { name: '0005-search-trigrams', ...searchTrigrams },
  { name: '0006-write-queue-partitions', ...writeQueuePartitions },
];
