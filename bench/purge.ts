/**
 * The deletion phase of `npm run bench`: an application of 100,000 messages is deleted through
 * the API (how long the 204 takes), then a consumer purges it in the background while it drains
 * a backlog of creates for another application. Prints and returns: the DELETE's latency, the
 * purge rate, and the drain rate beside the purge against the same drain alone.
 */
import { randomUUID } from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';
import { startProgram, stopProgram, waitReady, type Program } from '../test/e2e/support/system.js';
import { sqlDateTime } from '../internal/db/datetime.js';
import { until } from '../test/support/until.js';

export interface PurgeFigures {
  readonly messages: number;
  readonly deleteMs: number;
  readonly purgeSeconds: number;
  readonly purgeRowsPerSecond: number;
  readonly drainBesidePurgePerSecond: number;
  readonly drainAlonePerSecond: number;
}

const CHATS = 100;
const PER_CHAT = 1_000;
const BACKLOG = 20_000;
/** How long a drain or the purge may take before the phase gives up. */
const LONG = 300_000;

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function createApplication(base: string): Promise<{ token: string; id: number }> {
  const body = await json(
    await fetch(`${base}/api/applications`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ application_name: 'bench purge' }),
    }),
  );
  return { token: String(body['application_token']), id: 0 };
}

/** 100 chats of 1,000 messages, written straight to MySQL as the consumer would have. */
async function seed(sequelize: Sequelize, token: string): Promise<void> {
  const [app] = await sequelize.query<{ id: number }>(
    'SELECT id FROM applications WHERE token = ?',
    {
      replacements: [token],
      type: QueryTypes.SELECT,
    },
  );
  const at = sqlDateTime(new Date());
  for (let chat = 1; chat <= CHATS; chat += 1) {
    const [chatId] = await sequelize.query(
      `INSERT INTO chats (application_id, number, name, event_id, created_at, updated_at)
       VALUES (?, ?, NULL, ?, ?, ?)`,
      { replacements: [app?.id, chat, randomUUID(), at, at], type: QueryTypes.INSERT },
    );
    const rows = Array.from({ length: PER_CHAT }, (_, i) => [
      chatId,
      i + 1,
      `message ${i + 1} of chat ${chat}, with some text to make the row realistic`,
      randomUUID(),
      at,
      at,
    ]);
    await sequelize.query(
      `INSERT INTO messages (chat_id, number, content, event_id, created_at, updated_at)
       VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
      { replacements: rows.flat() },
    );
  }
  // Numbering must know the chats exist (as it would after creating them through the API).
  await sequelize.query(
    `INSERT INTO number_ceilings (application_id, scope, ceiling) VALUES (?, 0, ?)
     ON DUPLICATE KEY UPDATE ceiling = VALUES(ceiling)`,
    { replacements: [app?.id, CHATS] },
  );
}

async function count(sequelize: Sequelize, token: string): Promise<number> {
  const [row] = await sequelize.query<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM messages m JOIN chats c ON c.id = m.chat_id
       JOIN applications a ON a.id = c.application_id WHERE a.token = ?`,
    { replacements: [token], type: QueryTypes.SELECT },
  );
  return Number(row?.n ?? 0);
}

/** `n` message creates for one chat of `token`, 64 at a time, with no consumer running. */
async function backlog(base: string, token: string, n: number): Promise<void> {
  await fetch(`${base}/api/applications/${token}/chats`, { method: 'POST' });
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent += 1;
      await fetch(`${base}/api/applications/${token}/chats/1/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ message_content: 'backlog' }),
      }).then((r) => r.arrayBuffer());
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

export async function benchPurge(
  env: Record<string, string>,
  sequelize: Sequelize,
): Promise<PurgeFigures> {
  const programs: Program[] = [];
  try {
    const api = startProgram('api', env, [], { compiled: true });
    programs.push(api);
    const base = `http://127.0.0.1:${await api.port}`;
    await waitReady(base);
    const doomed = await createApplication(base);
    await seed(sequelize, doomed.token);
    const beside = await createApplication(base);
    const alone = await createApplication(base);
    await backlog(base, beside.token, BACKLOG);

    const started = process.hrtime.bigint();
    const res = await fetch(`${base}/api/applications/${doomed.token}`, { method: 'DELETE' });
    const deleteMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (res.status !== 204) throw new Error(`bench: DELETE answered ${res.status}`);

    // One consumer purges the deleted application and drains the other one's backlog at once.
    const purgeStart = Date.now();
    const consumer = startProgram('consumer', env, [], { compiled: true });
    programs.push(consumer);
    let drainedAt = 0;
    const drained = until(async () => (await count(sequelize, beside.token)) >= BACKLOG, LONG).then(
      () => (drainedAt = Date.now()),
    );
    await until(async () => (await count(sequelize, doomed.token)) === 0, LONG);
    const purgeSeconds = (Date.now() - purgeStart) / 1000;
    await drained;
    const besideSeconds = (drainedAt - purgeStart) / 1000;
    await stopProgram(consumer);

    // The same drain with nothing to purge.
    await backlog(base, alone.token, BACKLOG);
    const aloneStart = Date.now();
    const again = startProgram('consumer', env, [], { compiled: true });
    programs.push(again);
    await until(async () => (await count(sequelize, alone.token)) >= BACKLOG, LONG);
    const aloneSeconds = (Date.now() - aloneStart) / 1000;

    const messages = CHATS * PER_CHAT;
    const figures: PurgeFigures = {
      messages,
      deleteMs: Math.round(deleteMs * 10) / 10,
      purgeSeconds: Math.round(purgeSeconds * 10) / 10,
      purgeRowsPerSecond: Math.round(messages / purgeSeconds),
      drainBesidePurgePerSecond: Math.round(BACKLOG / besideSeconds),
      drainAlonePerSecond: Math.round(BACKLOG / aloneSeconds),
    };
    console.log(
      `deleting an application of ${messages} messages (one consumer, timed from its start)`,
    );
    console.log(`  DELETE answered 204 in ${figures.deleteMs} ms`);
    console.log(
      `  purged in ${figures.purgeSeconds} s = ${figures.purgeRowsPerSecond} rows/s, while draining ${BACKLOG} creates of another application`,
    );
    console.log(
      `  that drain: ${figures.drainBesidePurgePerSecond} msgs/s beside the purge, ${figures.drainAlonePerSecond} msgs/s alone\n`,
    );
    return figures;
  } finally {
    await Promise.all(programs.map((p) => stopProgram(p)));
  }
}
