import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type {
  ChatCreated,
  CreateEvent,
  MessageCreated,
  NumberingFence,
  QueueDrained,
  WriteEvent,
} from '../domain/model.js';
import type { BatchOutcome, RejectedEvent } from '../domain/ports.js';
import { sqlDateTime } from './datetime.js';

export interface PersistOptions {
  /**
   * Queue the batch's messages in search_outbox in the same transaction, for the search
   * indexer (Elasticsearch's, or the built-in search's trigram index): commit (and so the ack)
   * never waits for the index, and nothing is lost to it.
   */
  readonly queueForIndexing?: boolean;
  /**
   * The base write queue (RABBITMQ_QUEUE): whose registry of partitions a fence is checked
   * against. Fences persisted without it, or without the queue they came from, settle their
   * epoch at once, as before partitions.
   */
  readonly baseQueue?: string;
}

interface ChatKey {
  applicationId: number;
  number: number;
}

const chatKey = (applicationId: number, number: number) => `${applicationId}:${number}`;

// ON DUPLICATE KEY UPDATE assigns left to right, each seeing the previous ones, so event_id
// (what says "placeholder") is assigned last. A chat's own event completes a placeholder row;
// a placeholder never changes an existing row; a name set by PUT/PATCH on a placeholder
// (updated_at moved past created_at) is kept.
const FILLS_PLACEHOLDER = '(event_id IS NULL AND VALUES(event_id) IS NOT NULL)';
const UNTOUCHED = 'updated_at = created_at';
// A tombstone written by a delete before the chat's create arrived keeps no name.
const NAMEABLE = `deleted_at IS NULL AND ${FILLS_PLACEHOLDER} AND ${UNTOUCHED}`;

/**
 * Persists a batch of create events in one READ COMMITTED transaction with multi-row upserts.
 * Replays are no-ops; a message whose chat row is not there yet creates a placeholder chat
 * that the chat's own event later completes; a number already taken by another create is
 * reported as rejected and left untouched. A create for what was deleted meets its tombstone
 * (the application's, the chat's or its own) and is discarded: deleted stays deleted, whatever
 * order the events and the delete arrive in.
 */
export async function persistWriteBatch(
  sequelize: Sequelize,
  events: readonly WriteEvent[],
  options: PersistOptions = {},
): Promise<BatchOutcome> {
  return sequelize.transaction(
    { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
    async (transaction) => {
      const query = <T extends object>(sql: string, replacements: unknown[]) =>
        sequelize.query<T>(sql, { replacements, transaction, type: QueryTypes.SELECT });
      const execute = (sql: string, replacements: unknown[]) =>
        sequelize.query(sql, { replacements, transaction });

      const rejected: RejectedEvent[] = [];
      const fences = events.filter((e): e is NumberingFence => e.kind === 'numbering.fence');
      const drains = events.filter((e): e is QueueDrained => e.kind === 'queue.drained');
      const creates = events.filter(
        (e): e is CreateEvent => e.kind === 'chat.created' || e.kind === 'message.created',
      );
      const discarded: CreateEvent[] = [];
      const apps = await resolveApplications(query, creates);
      const appIds = new Map([...apps].map(([token, app]): [string, number] => [token, app.id]));
      const known = creates.filter((event) => {
        const app = apps.get(event.applicationToken);
        if (app?.deleted === false) return true;
        if (app?.deleted === true) discarded.push(event);
        else {
          rejected.push({
            event,
            reason: { code: 'unknown_application', detail: 'the application does not exist' },
          });
        }
        return false;
      });
      const chats = known.filter((e): e is ChatCreated => e.kind === 'chat.created');
      const messages = known.filter((e): e is MessageCreated => e.kind === 'message.created');
      const appIdOf = (e: CreateEvent) => appIds.get(e.applicationToken) as number;

      const chatRows = upsertableChats(chats, messages, appIdOf);
      if (chatRows.length > 0) {
        await execute(
          `INSERT INTO chats (application_id, number, name, event_id, created_at, updated_at)
           VALUES ${chatRows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
           ON DUPLICATE KEY UPDATE
             name = IF(${NAMEABLE}, VALUES(name), name),
             updated_at = IF(${FILLS_PLACEHOLDER} AND ${UNTOUCHED}, VALUES(updated_at), updated_at),
             created_at = IF(${FILLS_PLACEHOLDER}, VALUES(created_at), created_at),
             event_id = IF(event_id IS NULL, VALUES(event_id), event_id)`,
          chatRows.flatMap((r) => {
            const at = sqlDateTime(r.at);
            return [r.applicationId, r.number, r.name, r.eventId, at, at];
          }),
        );
      }

      const stored = await loadChats(query, chatRows);
      for (const chat of chats) {
        const row = stored.get(chatKey(appIdOf(chat), chat.chatNumber));
        if (row?.deleted === true) discarded.push(chat);
        else if (row?.event_id !== chat.eventId) {
          rejected.push({
            event: chat,
            reason: { code: 'conflict', detail: 'chat number already taken by another create' },
          });
        }
      }

      const messageRows = messages
        .filter((m) => {
          const live = stored.get(chatKey(appIdOf(m), m.chatNumber))?.deleted !== true;
          if (!live) discarded.push(m);
          return live;
        })
        .map((m) => ({ m, chatId: stored.get(chatKey(appIdOf(m), m.chatNumber))?.id }))
        .sort(
          (a, b) => Number(a.chatId) - Number(b.chatId) || a.m.messageNumber - b.m.messageNumber,
        );
      if (messageRows.length > 0) {
        await execute(
          `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at)
           VALUES ${messageRows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
           ON DUPLICATE KEY UPDATE id = id`,
          messageRows.flatMap(({ m, chatId }) => {
            const at = sqlDateTime(new Date(m.createdAt));
            return [chatId, m.messageNumber, m.content, m.eventId, at, at];
          }),
        );
        const persisted = await loadMessageEventIds(query, messageRows);
        const ours: { id: number | string; chatId: number | undefined }[] = [];
        for (const { m, chatId } of messageRows) {
          const row = persisted.get(`${chatId}:${m.messageNumber}`);
          if (row !== undefined && row.event_id !== m.eventId && Number(row.deleted) === 1) {
            discarded.push(m);
          } else if (row?.event_id !== m.eventId) {
            rejected.push({
              event: m,
              reason: {
                code: 'conflict',
                detail: 'message number already taken by another create',
              },
            });
          } else ours.push({ id: row.id, chatId });
        }
        if (options.queueForIndexing === true && ours.length > 0) {
          // A replayed event queues its message again: indexing is idempotent. An edit's
          // pending entry keeps its own queued_at.
          const at = sqlDateTime(new Date());
          await execute(
            `INSERT INTO search_outbox (message_id, chat_id, queued_at)
             VALUES ${ours.map(() => '(?, ?, ?)').join(', ')}
             ON DUPLICATE KEY UPDATE message_id = message_id`,
            ours.flatMap(({ id, chatId }) => [id, chatId, at]),
          );
        }
      }

      // In the same transaction as everything delivered before it: see NumberingFence.
      await persistMarks(execute, fences, drains, options.baseQueue);

      return {
        rejected,
        discarded,
        touchedApplicationIds: [...new Set(chatRows.map((r) => r.applicationId))],
        touchedChatIds: [...new Set(messageRows.map((r) => Number(r.chatId)))],
      };
    },
  );
}

type Execute = (sql: string, replacements: unknown[]) => Promise<unknown>;

/**
 * Fences and drain marks. A fence records the queue it came from; its epoch is settled once
 * every queue of the registry not drained (the base queue is never drained) has given its
 * fence: a create numbered before the epoch can only be in one of those. A drain mark drains
 * its queue unless the queue was renewed since the mark was sent (an API sends to it again).
 */
async function persistMarks(
  execute: Execute,
  fences: readonly NumberingFence[],
  drains: readonly QueueDrained[],
  baseQueue: string | undefined,
): Promise<void> {
  const located = baseQueue === undefined ? [] : fences.filter((f) => f.queue !== undefined);
  const unlocated = fences.filter((f) => !located.includes(f));
  if (unlocated.length > 0) {
    await execute(
      `UPDATE numbering_epochs SET settled_at = COALESCE(settled_at, UTC_TIMESTAMP(3))
        WHERE id IN (${unlocated.map(() => '?').join(', ')})`,
      unlocated.map((f) => f.epoch),
    );
  }
  if (located.length > 0) {
    await execute(
      `INSERT INTO numbering_epoch_fences (epoch_id, queue_name, persisted_at)
       VALUES ${located.map(() => '(?, ?, UTC_TIMESTAMP(3))').join(', ')}
       ON DUPLICATE KEY UPDATE epoch_id = epoch_id`,
      located.flatMap((f) => [f.epoch, f.queue]),
    );
    const epochs = [...new Set(located.map((f) => f.epoch))];
    await execute(
      `UPDATE numbering_epochs e SET e.settled_at = COALESCE(e.settled_at, UTC_TIMESTAMP(3))
        WHERE e.id IN (${epochs.map(() => '?').join(', ')})
          AND NOT EXISTS (
            SELECT 1 FROM write_queues q
             WHERE q.base_queue = ? AND q.drained_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM numbering_epoch_fences f
                                WHERE f.epoch_id = e.id AND f.queue_name = q.name))`,
      [...epochs, baseQueue],
    );
  }
  for (const drain of drains) {
    if (drain.queue === undefined || baseQueue === undefined) continue;
    await execute(
      `UPDATE write_queues SET drained_at = UTC_TIMESTAMP(3)
        WHERE name = ? AND base_queue = ? AND partitions > 1 AND drained_at IS NULL
          AND heartbeat_at = ?`,
      [drain.queue, baseQueue, drain.heartbeatAt],
    );
  }
}

type Query = <T extends object>(sql: string, replacements: unknown[]) => Promise<T[]>;

async function resolveApplications(
  query: Query,
  events: readonly CreateEvent[],
): Promise<Map<string, { id: number; deleted: boolean }>> {
  const tokens = [...new Set(events.map((e) => e.applicationToken))];
  if (tokens.length === 0) return new Map();
  const rows = await query<{ id: number | string; token: string; deleted: number | string }>(
    `SELECT id, token, deleted_at IS NOT NULL AS deleted
       FROM applications WHERE token IN (${tokens.map(() => '?').join(', ')})`,
    tokens,
  );
  return new Map(
    rows.map((row) => [row.token, { id: Number(row.id), deleted: Number(row.deleted) === 1 }]),
  );
}

interface ChatUpsert extends ChatKey {
  name: string | null;
  eventId: string | null;
  at: Date;
}

/** The chat rows to upsert: the chats' own events, and placeholders for messages' parents. */
function upsertableChats(
  chats: readonly ChatCreated[],
  messages: readonly MessageCreated[],
  appIdOf: (e: CreateEvent) => number,
): ChatUpsert[] {
  const rows = new Map<string, ChatUpsert>();
  for (const m of messages) {
    const key = chatKey(appIdOf(m), m.chatNumber);
    if (!rows.has(key)) {
      rows.set(key, {
        applicationId: appIdOf(m),
        number: m.chatNumber,
        name: null,
        eventId: null,
        at: new Date(m.createdAt),
      });
    }
  }
  const own: ChatUpsert[] = chats.map((c) => ({
    applicationId: appIdOf(c),
    number: c.chatNumber,
    name: c.chatName,
    eventId: c.eventId,
    at: new Date(c.createdAt),
  }));
  for (const row of own) rows.delete(chatKey(row.applicationId, row.number));
  // A stable order over the unique key keeps concurrent consumers from deadlocking.
  return [...rows.values(), ...own].sort(
    (a, b) => a.applicationId - b.applicationId || a.number - b.number,
  );
}

function groupedWhere(
  pairs: readonly (readonly [number | string, number])[],
  parent: string,
): { sql: string; replacements: unknown[] } {
  const groups = new Map<string, number[]>();
  for (const [id, number] of pairs) {
    const list = groups.get(String(id)) ?? [];
    list.push(number);
    groups.set(String(id), list);
  }
  const clauses: string[] = [];
  const replacements: unknown[] = [];
  for (const [id, numbers] of groups) {
    clauses.push(`(${parent} = ? AND number IN (${numbers.map(() => '?').join(', ')}))`);
    replacements.push(id, ...numbers);
  }
  return { sql: clauses.join(' OR '), replacements };
}

async function loadChats(query: Query, keys: readonly ChatKey[]) {
  const stored = new Map<string, { id: number; event_id: string | null; deleted: boolean }>();
  if (keys.length === 0) return stored;
  const where = groupedWhere(
    keys.map((k) => [k.applicationId, k.number] as const),
    'application_id',
  );
  const rows = await query<{
    id: number | string;
    application_id: number | string;
    number: number;
    event_id: string | null;
    deleted: number | string;
  }>(
    `SELECT id, application_id, number, event_id, deleted_at IS NOT NULL AS deleted
       FROM chats WHERE ${where.sql}`,
    where.replacements,
  );
  for (const row of rows) {
    stored.set(chatKey(Number(row.application_id), row.number), {
      id: Number(row.id),
      event_id: row.event_id,
      deleted: Number(row.deleted) === 1,
    });
  }
  return stored;
}

async function loadMessageEventIds(
  query: Query,
  rows: readonly { m: MessageCreated; chatId: number | undefined }[],
) {
  const where = groupedWhere(
    rows.map(({ m, chatId }) => [chatId ?? 0, m.messageNumber] as const),
    'chat_id',
  );
  const found = await query<{
    id: number | string;
    chat_id: number | string;
    number: number;
    event_id: string | null;
    deleted: number | string;
  }>(
    `SELECT id, chat_id, number, event_id, deleted_at IS NOT NULL AS deleted
       FROM messages WHERE ${where.sql}`,
    where.replacements,
  );
  return new Map(found.map((r) => [`${r.chat_id}:${r.number}`, r]));
}
