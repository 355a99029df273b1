import { randomUUID } from 'node:crypto';
import type { Sequelize } from 'sequelize';
import { MysqlSearch } from '../../internal/search/mysql.js';
import { persistWriteBatch } from '../../internal/db/write-batch.js';
import { SqlMessageRepository } from '../../internal/db/repositories/messages.js';
import { sqlDateTime } from '../../internal/db/datetime.js';
import type { IndexedMessage } from '../../internal/domain/ports.js';
import { describeSearchBehaviour } from '../support/search-behaviour.js';
import { testSequelize } from '../support/database.js';

describeSearchBehaviour('built-in MySQL backend', () => {
  const sequelize: Sequelize = testSequelize();
  const messages = new SqlMessageRepository(sequelize);
  return Promise.resolve({
    search: new MysqlSearch(sequelize),
    async seed(seeded: IndexedMessage[]) {
      const tokens = [...new Set(seeded.map((m) => m.applicationToken))];
      const now = sqlDateTime(new Date());
      await sequelize.query(
        `INSERT IGNORE INTO applications (token, name, created_at, updated_at)
         VALUES ${tokens.map(() => "(?, 'search test', ?, ?)").join(', ')}`,
        { replacements: tokens.flatMap((t) => [t, now, now]) },
      );
      const outcome = await persistWriteBatch(
        sequelize,
        seeded.map((m) => ({
          kind: 'message.created' as const,
          eventId: randomUUID(),
          applicationToken: m.applicationToken,
          chatNumber: m.chatNumber,
          messageNumber: m.number,
          content: m.content,
          createdAt: m.createdAt.toISOString(),
        })),
      );
      if (outcome.rejected.length > 0)
        throw new Error(`seed rejected: ${outcome.rejected[0]?.reason.code}`);
    },
    async update(message: IndexedMessage) {
      await messages.edit(
        message.applicationToken,
        message.chatNumber,
        message.number,
        message.content,
      );
    },
    cleanup: () => sequelize.close(),
  });
});
