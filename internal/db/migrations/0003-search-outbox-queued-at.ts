import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

// Every new message now passes through search_outbox (when a search index is configured), so
// during an index outage it holds a large backlog: the indexer reads it oldest first and the
// lag gauge reads MIN(queued_at), both of which would otherwise sort the whole table.
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(
    'ALTER TABLE search_outbox ADD KEY search_outbox_queued_at (queued_at, message_id)',
  );
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('ALTER TABLE search_outbox DROP KEY search_outbox_queued_at');
};
