import { QueryTypes, type Sequelize } from 'sequelize';
import type { SearchHit, SearchPort, SearchScope } from '../domain/ports.js';
import type { SearchMetrics } from './metrics.js';

/** Escapes LIKE wildcards so user text always matches literally. */
export function likePattern(term: string): string {
  return `%${term.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/**
 * The built-in backend for deployments without Elasticsearch: every term must occur as a
 * substring, compared under the column's utf8mb4_unicode_520_ci collation (case- and
 * accent-insensitive, emoji compared exactly). It scans one chat's messages, which is fine for
 * chats of thousands of messages; larger deployments should run Elasticsearch. With no
 * relevance score to rank by, the newest messages come first.
 */
export class MysqlSearch implements SearchPort {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly metrics?: SearchMetrics,
  ) {}

  async search(
    scope: SearchScope,
    terms: readonly string[],
    page: { limit: number; offset: number },
  ): Promise<SearchHit[]> {
    const timer = this.metrics?.searchDuration.startTimer({ backend: 'mysql' });
    try {
      const rows = await this.sequelize.query<{ number: number; content: string }>(
        `SELECT m.number, m.content
           FROM messages m
           JOIN chats c ON c.id = m.chat_id
           JOIN applications a ON a.id = c.application_id
          WHERE a.token = ? AND c.number = ?
            AND m.deleted_at IS NULL AND c.deleted_at IS NULL AND a.deleted_at IS NULL
            ${terms.map(() => "AND m.content LIKE ? ESCAPE '!'").join(' ')}
          ORDER BY m.number DESC
          LIMIT ? OFFSET ?`,
        {
          replacements: [
            scope.applicationToken,
            scope.chatNumber,
            ...terms.map(likePattern),
            page.limit,
            page.offset,
          ],
          type: QueryTypes.SELECT,
        },
      );
      timer?.({ outcome: 'ok' });
      return rows.map((row) => ({ number: row.number, content: row.content }));
    } catch (err) {
      timer?.({ outcome: 'error' });
      throw err;
    }
  }
}
