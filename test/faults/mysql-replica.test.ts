/**
 * Read-your-writes across a MySQL read replica (MYSQL_READ_URL), against a private MariaDB
 * primary and a replica of it (GTID replication) that this suite starts and stops itself.
 * Redis and RabbitMQ are the shared test services, under a key prefix and a queue of the
 * suite's own. Replication is paused (STOP SLAVE SQL_THREAD) while clients write through one
 * API replica and read through another: every read must show what was answered, and say it
 * went to the primary; once replication resumes, reads go back to the replica.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createConnection, type Connection } from 'mysql2/promise';
import { Redis } from 'ioredis';
import { build as buildApi } from '../../cmd/api/build.js';
import { build as buildConsumer } from '../../cmd/consumer/build.js';
import type { Program } from '../../internal/runtime/program.js';
import { migrateDatabase } from '../support/database.js';
import { isolatedEnv, silentLogger, TEST_REDIS_URL } from '../support/environment.js';
import { loadConfig } from '../../internal/config/config.js';
import { removeIsolatedResources } from '../e2e/support/system.js';
import { freePort, PrivateMariadb } from './support/services.js';

const DATABASE = 'chat_system_replica';

describe('MySQL read replica: read-your-writes with replication paused (private MariaDB primary + replica)', function () {
  this.timeout(180_000);
  let dir: string;
  let primary: PrivateMariadb;
  let replica: PrivateMariadb;
  let onPrimary: Connection;
  let onReplica: Connection;
  let redis: Redis;
  const programs: Program[] = [];
  const env = {
    ...isolatedEnv('replica'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_ENABLED: 'false',
    CONSUMER_BATCH_WAIT_MS: '5',
    // Long enough for a caught-up replica on a loaded machine, short enough for the test.
    MYSQL_READ_WAIT_MS: '300',
  };
  // API replica `a` takes the writes, `b` the reads: what one answered, the other must show.
  const apis: { a: Api; b: Api } = {} as { a: Api; b: Api };

  interface Api {
    base: string;
    metrics: number;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-system-replica-'));
    const gtid = ['--log-bin=binlog', '--binlog-format=ROW', '--gtid-strict-mode=1'];
    primary = new PrivateMariadb(join(dir, 'primary'), await freePort(), [
      '--server-id=1',
      ...gtid,
    ]);
    replica = new PrivateMariadb(join(dir, 'replica'), await freePort(), [
      '--server-id=2',
      '--read-only',
      ...gtid,
    ]);
    await Promise.all([
      primary.install().then(() => primary.start()),
      replica.install().then(() => replica.start()),
    ]);
    onPrimary = await createConnection({ host: '127.0.0.1', port: primary.port, user: 'root' });
    onReplica = await createConnection({ host: '127.0.0.1', port: replica.port, user: 'root' });
    await onReplica.query(
      `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port},
         MASTER_USER = 'root', MASTER_USE_GTID = slave_pos`,
    );
    await onReplica.query('START SLAVE');
    await migrateDatabase(primary.url(DATABASE));
    await caughtUp();

    const urls = { MYSQL_URL: primary.url(DATABASE), MYSQL_READ_URL: replica.url(DATABASE) };
    for (const name of ['a', 'b'] as const) {
      apis[name] = await start((onListening) =>
        buildApi({
          config: loadConfig({ ...env, ...urls }),
          logger: silentLogger,
          onListening,
        }),
      );
    }
    await start((onListening) =>
      buildConsumer({
        config: loadConfig({ ...env, ...urls }),
        logger: silentLogger,
        onListening: (ports) => onListening({ http: ports.http, metrics: ports.http }),
      }),
    );
    redis = new Redis(TEST_REDIS_URL);
  });

  after(async () => {
    await Promise.allSettled(programs.map((p) => p.stop()));
    await removeIsolatedResources(env).catch(() => undefined);
    redis?.disconnect();
    await onPrimary?.end().catch(() => undefined);
    await onReplica?.end().catch(() => undefined);
    await Promise.allSettled([primary?.stop(), replica?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function start(
    make: (onListening: (ports: { http: number; metrics: number }) => void) => Program,
  ): Promise<Api> {
    let ports = { http: 0, metrics: 0 };
    const program = make((p) => (ports = p));
    programs.push(program);
    await program.start();
    const api = { base: `http://127.0.0.1:${ports.http}`, metrics: ports.metrics };
    for (let i = 0; i < 100; i += 1) {
      if ((await fetch(`${api.base}/readyz`).catch(() => null))?.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return api;
  }

  /** The replica applied everything the primary committed so far. */
  async function caughtUp(): Promise<void> {
    const [rows] = await onPrimary.query('SELECT @@global.gtid_binlog_pos AS p');
    const position = (rows as { p: string }[])[0]?.p ?? '';
    const [waited] = await onReplica.query('SELECT MASTER_GTID_WAIT(?, 30) AS r', [position]);
    expect(Number((waited as { r: number }[])[0]?.r)).to.equal(0, 'replica caught up');
  }

  async function call(api: Api, method: string, path: string, body?: object) {
    const res = await fetch(`${api.base}/api${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
  }

  /** mysql_reads_total of API `b`, by route. */
  async function routes(): Promise<Record<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${apis.b.metrics}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const [, route, value] of text.matchAll(
      /^mysql_reads_total\{[^}]*route="(\w+)"[^}]*\} (\S+)$/gm,
    ))
      counts[route ?? ''] = Number(value);
    return counts;
  }

  async function readsBy<T>(read: () => Promise<T>): Promise<{ value: T; by: string[] }> {
    const before = await routes();
    const value = await read();
    const after = await routes();
    const by = Object.keys(after).filter((r) => (after[r] ?? 0) > (before[r] ?? 0));
    return { value, by };
  }

  /** The consumer persisted the create and removed its read-your-writes entry. */
  async function settled(token: string, suffix: string): Promise<void> {
    const key = `${env.REDIS_KEY_PREFIX}{${token}}:pending:${suffix}`;
    for (let i = 0; i < 300; i += 1) {
      if ((await redis.exists(key)) === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${key} still pending`);
  }

  async function newApplication(name: string): Promise<string> {
    const created = await call(apis.a, 'POST', '/applications', { application_name: name });
    expect(created.status).to.equal(201);
    return (created.body as { application_token: string }).application_token;
  }

  it('reads from the replica once it applied the application’s writes', async () => {
    const token = await newApplication('served by the replica');
    await caughtUp();
    // A change made on the replica alone (outside replication): only a replica read shows it.
    await onReplica.query('SET SESSION sql_log_bin = 0');
    await onReplica.query(
      `UPDATE ${DATABASE}.applications SET name = 'replica only' WHERE token = ?`,
      [token],
    );
    const read = await readsBy(() => call(apis.b, 'GET', `/applications/${token}`));
    expect(read.value.status).to.equal(200);
    expect((read.value.body as { application_name: string }).application_name).to.equal(
      'replica only',
    );
    expect(read.by).to.deep.equal(['replica']);
  });

  it('with replication paused, every answered create, edit and delete is read back through another API replica', async () => {
    const quiet = await newApplication('no writes while paused');
    const token = await newApplication('writes while paused');
    await caughtUp();
    const seen = await readsBy(() => call(apis.b, 'GET', `/applications/${quiet}`));
    expect(seen.by).to.deep.equal(['replica']);
    await onReplica.query('STOP SLAVE SQL_THREAD');
    try {
      // Create: persisted by the consumer and its entry removed, while the replica lacks it.
      const chat = await call(apis.a, 'POST', `/applications/${token}/chats`, { chat_name: 'c' });
      expect(chat.status).to.equal(201);
      const message = await call(apis.a, 'POST', `/applications/${token}/chats/1/messages`, {
        message_content: 'first',
      });
      expect(message.status).to.equal(201);
      await settled(token, 'c:1');
      await settled(token, 'm:1:1');
      const getChat = await readsBy(() => call(apis.b, 'GET', `/applications/${token}/chats/1`));
      expect(getChat.value.status).to.equal(200);
      expect(getChat.value.body).to.deep.equal(chat.body);
      expect(getChat.by).to.deep.equal(['primary_lagging']);
      const getMessage = await call(apis.b, 'GET', `/applications/${token}/chats/1/messages/1`);
      expect(getMessage.status).to.equal(200);
      expect(getMessage.body).to.deep.equal(message.body);
      const list = await call(apis.b, 'GET', `/applications/${token}/chats/1/messages`);
      expect(list.status).to.equal(200);
      expect(
        (list.body as { message_number: number }[]).map((m) => m.message_number),
      ).to.deep.equal([1]);

      // Edits: the next read shows the new state, never the old one.
      const renamed = await call(apis.a, 'PUT', `/applications/${token}/chats/1`, {
        chat_name: 'renamed',
      });
      expect(renamed.status).to.equal(200);
      const afterRename = await call(apis.b, 'GET', `/applications/${token}/chats/1`);
      expect((afterRename.body as { chat_name: string }).chat_name).to.equal('renamed');
      const edited = await call(apis.a, 'PATCH', `/applications/${token}/chats/1/messages/1`, {
        message_content: 'edited',
      });
      expect(edited.status).to.equal(200);
      const afterEdit = await call(apis.b, 'GET', `/applications/${token}/chats/1/messages/1`);
      expect(afterEdit.body).to.deep.equal(edited.body);
      // The built-in search too (no ELASTICSEARCH_URL): the new content, not the old one.
      const search = (q: string) =>
        call(apis.b, 'GET', `/applications/${token}/chats/1/search?q=${q}`);
      const found = await readsBy(() => search('edited'));
      expect(found.value.body).to.deep.equal([{ number: 1, content: 'edited' }]);
      expect(found.by).to.deep.equal(['primary_lagging']);
      expect((await search('first')).body).to.deep.equal([]);
      const app = await call(apis.a, 'PUT', `/applications/${token}`, {
        application_name: 'renamed app',
      });
      expect(app.status).to.equal(200);
      expect(await call(apis.b, 'GET', `/applications/${token}`)).to.deep.equal(app);

      // Deletes: gone at once, from every read.
      expect(
        (await call(apis.a, 'DELETE', `/applications/${token}/chats/1/messages/1`)).status,
      ).to.equal(204);
      expect(
        (await call(apis.b, 'GET', `/applications/${token}/chats/1/messages/1`)).status,
      ).to.equal(404);
      const emptied = await call(apis.b, 'GET', `/applications/${token}/chats/1/messages`);
      expect(emptied.body).to.deep.equal([]);
      expect((await search('edited')).body).to.deep.equal([]);
      expect((await call(apis.a, 'DELETE', `/applications/${token}/chats/1`)).status).to.equal(204);
      expect((await call(apis.b, 'GET', `/applications/${token}/chats/1`)).status).to.equal(404);
      expect((await call(apis.b, 'GET', `/applications/${token}/chats`)).body).to.deep.equal([]);

      // What the lagging replica holds is what it held before the pause.
      const [rows] = await onReplica.query(
        `SELECT COUNT(*) AS n FROM ${DATABASE}.chats c JOIN ${DATABASE}.applications a
           ON a.id = c.application_id WHERE a.token = ?`,
        [token],
      );
      expect(Number((rows as { n: number }[])[0]?.n)).to.equal(0, 'the replica lags');
      // An application without writes since the pause is still read from the replica.
      const quietRead = await readsBy(() => call(apis.b, 'GET', `/applications/${quiet}`));
      expect(quietRead.value.status).to.equal(200);
      expect(quietRead.by).to.deep.equal(['replica']);
    } finally {
      await onReplica.query('START SLAVE SQL_THREAD');
    }

    await caughtUp();
    const resumed = await readsBy(() => call(apis.b, 'GET', `/applications/${token}`));
    expect((resumed.value.body as { application_name: string }).application_name).to.equal(
      'renamed app',
    );
    expect(resumed.by).to.deep.equal(['replica']);
    expect((await call(apis.b, 'GET', `/applications/${token}/chats/1`)).status).to.equal(404);
  });

  it('searches on the replica once it applied the application’s writes, and finds what it holds', async () => {
    const token = await newApplication('search on the replica');
    await call(apis.a, 'POST', `/applications/${token}/chats`, {});
    const sent = await call(apis.a, 'POST', `/applications/${token}/chats/1/messages`, {
      message_content: 'hello replica',
    });
    expect(sent.status).to.equal(201);
    await settled(token, 'm:1:1');
    await caughtUp();
    // Changed on the replica alone: only a search there finds this content.
    await onReplica.query('SET SESSION sql_log_bin = 0');
    await onReplica.query(
      `UPDATE ${DATABASE}.messages m JOIN ${DATABASE}.chats c ON c.id = m.chat_id
          JOIN ${DATABASE}.applications a ON a.id = c.application_id
          SET m.content = 'zq only here' WHERE a.token = ?`,
      [token],
    );
    // Two characters: a scan with LIKE over what the connection reads.
    const found = await readsBy(() =>
      call(apis.b, 'GET', `/applications/${token}/chats/1/search?q=zq`),
    );
    expect(found.value.body).to.deep.equal([{ number: 1, content: 'zq only here' }]);
    expect(found.by).to.deep.equal(['replica']);
  });

  it('a position lost from Redis is replaced by the primary’s: no stale read', async () => {
    const token = await newApplication('position lost');
    await onReplica.query('STOP SLAVE SQL_THREAD');
    try {
      const renamed = await call(apis.a, 'PUT', `/applications/${token}`, {
        application_name: 'after the loss',
      });
      expect(renamed.status).to.equal(200);
      // As after a Redis restart without its data, or the key's expiry.
      await redis.del(`${env.REDIS_KEY_PREFIX}{${token}}:mysql:position`);
      const read = await readsBy(() => call(apis.b, 'GET', `/applications/${token}`));
      expect(read.value).to.deep.equal(renamed);
      expect(read.by).to.deep.equal(['primary_lagging']);
    } finally {
      await onReplica.query('START SLAVE SQL_THREAD');
    }
  });

  it('a replica that is down sends reads to the primary', async () => {
    const token = await newApplication('replica down');
    await replica.stop();
    try {
      const read = await readsBy(() => call(apis.b, 'GET', `/applications/${token}`));
      expect(read.value.status).to.equal(200);
      expect(read.by).to.deep.equal(['primary_replica_error']);
    } finally {
      await replica.start();
    }
  });
});
