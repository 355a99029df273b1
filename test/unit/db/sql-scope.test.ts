/**
 * Every statement the programs send is scoped to one application, so that the database can be
 * sharded by application (see docs/mysql-scaling.md): the statements are read from the source
 * (test/support/sql-statements.ts), and each must either name one application's rows by key
 * or be in the allow-list below, with why it spans applications and what it becomes on a
 * sharded engine. A new statement that scans across applications fails here until it is
 * scoped or listed; an entry that no longer matches any statement fails too.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { modelCalls, sqlStatements, type SqlStatement } from '../../support/sql-statements.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Tables holding no application's rows: background queues and global bookkeeping. */
const GLOBAL_TABLES = [
  'purge_queue',
  'numbering_epochs',
  'search_trigram_backfill',
  'write_queues',
  'numbering_epoch_fences',
];

/**
 * One application's rows, named by key with a single placeholder: its token or id, a chat id
 * (a chat belongs to one application), a message id. A list (`IN (…)`) may span applications.
 */
const KEY_PREDICATE = /\b(?:\w+\.)?(?:token|application_id|chat_id|message_id|id)\s*=\s*\?/;

/** Why a statement is one application's, or null when it is not provably so. */
export function scopeOf(sql: string): string | null {
  // A computed name (`⟨…⟩`) is a table too, of unknown scope.
  const tables = [...sql.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+|⟨[^⟩]*⟩)/g)].map((m) => m[1]);
  if (tables.length === 0) return 'reads no table';
  if (tables.some((t) => GLOBAL_TABLES.includes(t ?? ''))) return null;
  // One row of values: the row carries its own keys.
  if (
    /^INSERT\b/.test(sql) &&
    /\bVALUES\s*\((?:[^()⟨]|\([^()]*\))*\)/.test(sql) &&
    !sql.includes('⟨')
  )
    return 'inserts one row';
  // The conditions: after WHERE, and the ON of joins; not SET or ON DUPLICATE KEY UPDATE.
  // A computed part vouches for nothing: its source text is not what runs.
  const conditions = [
    ...sql
      .replace(/⟨[^⟩]*⟩/g, '⟨⟩')
      .matchAll(/\b(?:WHERE|ON)\b(.*?)(?=\bON DUPLICATE KEY UPDATE\b|\bSET\b|$)/g),
  ].map((m) => m[1] ?? '');
  return conditions.some((c) => KEY_PREDICATE.test(c)) ? 'names one application by key' : null;
}

interface Allowed {
  readonly file: string;
  readonly sql: RegExp;
  /** Why it is not one application's. */
  readonly why: string;
  /** What it becomes on an engine sharded by application (Vitess; docs/mysql-scaling.md). */
  readonly sharded: string;
}

const BATCH =
  'the consumer persists a batch of creates of many applications in one transaction; every row carries its keys';
const BATCH_SHARDED =
  'Vitess routes each row (or IN value) by its keyspace id to its shard and commits the shards in one distributed transaction (or best-effort: every statement is idempotent and a batch is redelivered whole until acked)';

const ALLOWED: readonly Allowed[] = [
  {
    file: 'internal/db/migrations/',
    sql: /./,
    why: 'schema changes and one-off backfills run once per database by the migrator, not per request',
    sharded: 'applied to every shard of the keyspace (vtctldclient ApplySchema / online DDL)',
  },
  {
    file: 'internal/db/migrator.ts',
    sql: /information_schema/,
    why: 'asks whether the database exists, before migrations',
    sharded: 'the keyspace is created by the Vitess operator, not by the programs',
  },
  {
    file: 'internal/db/repositories/applications.ts',
    sql: /FROM applications WHERE id > \? .*ORDER BY id LIMIT/,
    why: 'the admin listing pages through every application by design',
    sharded:
      'a scatter query over every shard (ordered, limited by vtgate), admin-only and paged; or a global lookup table of tokens in an unsharded keyspace',
  },
  {
    file: 'internal/db/repositories/purge.ts',
    sql: /purge_queue/,
    why: 'the purge queue is one background queue for every application (deletes write it, one consumer drains it oldest first)',
    sharded:
      'purge_queue lives in an unsharded keyspace (or one queue per shard, drained by a loop per shard); the rows it names are then deleted on their own shard',
  },
  {
    file: 'internal/db/repositories/purge.ts',
    sql: /^(SELECT id FROM messages WHERE chat_id IN|DELETE FROM search_outbox WHERE message_id IN|DELETE FROM messages WHERE id IN)/,
    why: 'ids of one purge task (one chat, or chats of one application selected by application_id just before): one application, by construction, not by the text',
    sharded: 'single-shard: every id in the list belongs to the task’s application',
  },
  {
    file: 'internal/db/repositories/counters.ts',
    sql: /COUNT\(\*\)|UPDATE ⟨target\.table⟩/,
    why: 'the flusher recounts the chats and applications marked dirty, of any application, a chunk at a time',
    sharded:
      'IN on the keyed column: vtgate sends each shard its own ids (a multi-shard read, per-shard updates); or one flusher per shard',
  },
  {
    file: 'internal/db/repositories/message-source.ts',
    sql: /FROM messages/,
    why: 'npm run reindex walks every message (or one chat, with conditions) by id to rebuild the search index',
    sharded: 'run per shard (the reindex takes a shard target), each walking its own messages',
  },
  {
    file: 'internal/db/repositories/number-ledger.ts',
    sql: /numbering_epochs/,
    why: 'a numbering epoch is global: it begins when the one Redis lost its state',
    sharded:
      'numbering_epochs in an unsharded keyspace (a handful of rows); with Redis Cluster one epoch per Redis shard would scope it further',
  },
  {
    file: 'internal/db/repositories/search-outbox.ts',
    sql: /FROM search_outbox o JOIN messages|COUNT\(\*\) AS pending|DELETE FROM search_outbox WHERE \(message_id, queued_at\) IN/,
    why: 'the search outbox is drained oldest first across applications by one indexer',
    sharded:
      'search_outbox shares the messages’ keyspace id, so each shard has its own outbox; one indexer loop per shard (a lock per shard), the lag is the oldest of all shards',
  },
  {
    file: 'internal/db/write-batch.ts',
    sql: /^(INSERT INTO (chats|messages|search_outbox) .*VALUES ⟨|SELECT id, token, deleted_at IS NOT NULL AS deleted FROM applications WHERE token IN|SELECT id, (application_id|chat_id), number, event_id, deleted_at IS NOT NULL AS deleted FROM (chats|messages) WHERE ⟨where\.sql⟩)/,
    why: BATCH,
    sharded: BATCH_SHARDED,
  },
  {
    file: 'internal/db/write-batch.ts',
    sql: /UPDATE numbering_epochs/,
    why: 'a fence settles the global numbering epoch, in the batch that carries it',
    sharded:
      'numbering_epochs is unsharded: the batch commits across it and the shards in one distributed transaction',
  },
  {
    file: 'internal/db/repositories/write-queues.ts',
    sql: /write_queues/,
    why: "the registry of write queues is the deployment's, not an application's: which partition sets APIs send to",
    sharded:
      'write_queues in an unsharded keyspace beside numbering_epochs (a few rows per partition set)',
  },
  {
    file: 'internal/db/write-batch.ts',
    sql: /^(INSERT INTO numbering_epoch_fences|UPDATE write_queues SET drained_at)/,
    why: 'a fence records the queue it came from, and a drain mark drains its queue, in the batch that carries it',
    sharded:
      'numbering_epoch_fences and write_queues are unsharded like numbering_epochs: the batch commits across them and the shards in one distributed transaction',
  },
  {
    file: 'internal/search/mysql-trigrams.ts',
    sql: /^(INSERT IGNORE INTO message_trigrams .*VALUES ⟨|DELETE FROM message_trigrams WHERE message_id IN|SELECT id, chat_id, content FROM messages WHERE ⟨where\.sql⟩|SELECT c\.id, a\.token, c\.number FROM chats c JOIN applications a ON a\.id = c\.application_id WHERE ⟨)/,
    why: 'the indexer takes a batch of the outbox, of any application, and indexes its messages together',
    sharded:
      'message_trigrams shares the messages’ keyspace id; the indexer runs per shard (as the outbox), so each batch stays on one shard',
  },
  {
    file: 'internal/search/mysql-trigrams.ts',
    sql: /search_trigram_backfill|FROM messages WHERE id > \? ORDER BY id LIMIT/,
    why: 'the trigram backfill walks every message stored before the index existed, from one cursor',
    sharded:
      'one cursor per shard (search_trigram_backfill per shard), walked by the per-shard indexer',
  },
];

describe('SQL: every statement is scoped to one application (or listed, with its sharded form)', () => {
  const statements = sqlStatements(ROOT, ['internal', 'cmd']);
  const allowedBy = (s: SqlStatement) =>
    ALLOWED.filter((a) => s.file.startsWith(a.file) && a.sql.test(s.sql));

  it('reads the statements from the source, fragments folded in', () => {
    expect(statements.length).to.be.greaterThan(60);
    const find = statements.find((s) => s.file.endsWith('repositories/chats.ts'));
    // SELECT_CHAT and LIVE are constants folded into the statement that uses them.
    expect(find?.sql).to.match(
      /^SELECT c\.id, a\.token, .* WHERE a\.token = \? AND c\.number = \?/,
    );
    expect(
      statements.some(
        (s) =>
          s.sql.startsWith(
            'SELECT c.id, a.token, c.number, c.name, c.messages_count, c.created_at, c.updated_at FROM chats c JOIN applications a ON a.id = c.application_id',
          ) && !s.sql.includes('WHERE'),
      ),
    ).to.equal(false, 'a fragment is not a statement');
  });

  it('has no statement across applications outside the allow-list', () => {
    const unscoped = statements.filter((s) => scopeOf(s.sql) === null && allowedBy(s).length === 0);
    expect(unscoped.map((s) => `${s.file}:${s.line} ${s.sql.slice(0, 160)}`)).to.deep.equal([]);
  });

  it('lists nothing that is scoped already, and nothing that no longer exists', () => {
    for (const entry of ALLOWED) {
      const matched = statements.filter(
        (s) => s.file.startsWith(entry.file) && entry.sql.test(s.sql),
      );
      expect(matched, `${entry.file} ${String(entry.sql)}`).to.not.be.empty;
      expect(entry.why).to.not.equal('');
      expect(entry.sharded).to.not.equal('');
      // An entry covers only statements that need it (migrations aside: DDL has no scope).
      if (entry.file !== 'internal/db/migrations/') {
        const scoped = matched.filter((s) => scopeOf(s.sql) !== null);
        expect(
          scoped.map((s) => `${s.file}:${s.line}`),
          String(entry.sql),
        ).to.deep.equal([]);
      }
    }
  });

  it('sends no SQL through model methods except single-row creates', () => {
    // Model methods build their SQL at run time, out of this test's sight: only `create` (one
    // row, carrying its keys) is allowed; anything else goes through a written statement.
    const calls = modelCalls(ROOT, ['internal', 'cmd']);
    expect(calls.map((c) => `${c.file} ${c.call}`)).to.deep.equal([
      'internal/db/repositories/applications.ts this.models.Application.create',
    ]);
  });

  describe('the rule', () => {
    it('takes a key predicate, a single-row insert, or no table', () => {
      expect(scopeOf('SELECT id FROM chats WHERE application_id = ? AND number = ?')).to.not.equal(
        null,
      );
      expect(
        scopeOf(
          'UPDATE chats c JOIN applications a ON a.id = c.application_id SET c.name = ? WHERE a.token = ?',
        ),
      ).to.not.equal(null);
      expect(scopeOf('INSERT INTO chats (application_id, number) VALUES (?, ?)')).to.not.equal(
        null,
      );
      expect(scopeOf('SELECT 1')).to.not.equal(null);
    });

    it('refuses scans, lists of keys, multi-row inserts, global tables and keys only in SET', () => {
      expect(scopeOf('SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?')).to.equal(null);
      expect(scopeOf('SELECT COUNT(*) FROM chats WHERE id IN (⟨list⟩)')).to.equal(null);
      expect(scopeOf('INSERT INTO messages (chat_id, number) VALUES ⟨rows⟩')).to.equal(null);
      expect(scopeOf('DELETE FROM purge_queue WHERE id = ?')).to.equal(null);
      expect(scopeOf('UPDATE chats SET application_id = ? WHERE name = ?')).to.equal(null);
      expect(scopeOf('UPDATE messages SET content = ? WHERE deleted_at IS NULL')).to.equal(null);
      expect(
        scopeOf('INSERT INTO x (a) VALUES (?) ON DUPLICATE KEY UPDATE chat_id = ?'),
      ).to.not.equal(null);
    });
  });
});
