import { expect } from 'chai';
import { Writable } from 'node:stream';
import { ReplyError as IoredisReplyError } from 'ioredis';
import { createLogger, serializeError } from '../../../internal/log/logger.js';

// ioredis's own error class (typed loosely by the library).
const ReplyError = IoredisReplyError as unknown as new (message: string) => Error;
const token = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';
const content = 'my very secret message content';

describe('log/serializeError', () => {
  it('drops the SQL (and its inlined tokens) of database errors, keeping message and code', () => {
    const sql = `SELECT * FROM applications WHERE token = '${token}'`;
    const err = Object.assign(new Error('Deadlock found'), {
      name: 'SequelizeDatabaseError',
      sql,
      parameters: [token],
      original: Object.assign(new Error('Deadlock found'), { errno: 1213, sql }),
      parent: { errno: 1213, sql },
    });
    const serialized = serializeError(err) as Record<string, unknown>;
    expect(JSON.stringify(serialized)).not.to.include(token);
    expect(serialized).to.include({ message: 'Deadlock found', name: 'SequelizeDatabaseError' });
    expect((serialized['cause'] as Record<string, unknown>)['errno']).to.equal(1213);
  });

  it('drops the arguments ioredis puts on its errors, keeping the command name (defect 7)', () => {
    const err = new ReplyError("READONLY You can't write against a read only replica.");
    Object.assign(err, {
      command: { name: 'evalsha', args: ['sha', 1, `cs:{${token}}`, content] },
    });
    const serialized = serializeError(err) as Record<string, unknown>;
    const text = JSON.stringify(serialized);
    expect(text).not.to.include(token);
    expect(text).not.to.include(content);
    expect(serialized['command']).to.equal('evalsha');
    expect(serialized['message']).to.match(/^READONLY/);
  });

  it('drops Elasticsearch request and response bodies', () => {
    const err = Object.assign(new Error('version_conflict_engine_exception'), {
      name: 'ResponseError',
      meta: {
        body: { error: { reason: content } },
        meta: { request: { params: { body: content } } },
      },
      statusCode: 409,
    });
    const text = JSON.stringify(serializeError(err));
    expect(text).not.to.include(content);
    expect(text).to.include('409');
  });

  it('scrubs tokens and quoted values out of messages, nested causes and plain strings', () => {
    const duplicate = Object.assign(
      new Error(`Duplicate entry '${token}' for key 'applications.token'`),
      { code: 'ER_DUP_ENTRY', errno: 1062 },
    );
    const wrapped = new Error(`insert of ${token} failed`, { cause: duplicate });
    const text = JSON.stringify(serializeError(wrapped));
    expect(text).not.to.include(token);
    expect(text).to.include('2a7b3bbd-');
    expect(text).to.include('ER_DUP_ENTRY');
    const value = Object.assign(
      new Error(`Incorrect string value: '${content}' for column 'content' at row 1`),
      { errno: 1366 },
    );
    expect(JSON.stringify(serializeError(value))).not.to.include(content);
    expect(serializeError(`lost ${token}`)).to.equal('lost 2a7b3bbd-…');
  });

  it('applies to every line of the program logger', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger('test', 'info', sink);
    const err = Object.assign(new ReplyError('OOM command not allowed'), {
      command: { name: 'set', args: [`k:${token}`, content] },
    });
    logger.error({ err }, 'request failed');
    logger.warn({ err: `lost ${token}` }, 'plain');
    expect(lines).to.have.length(2);
    for (const line of lines) {
      expect(line).not.to.include(token);
      expect(line).not.to.include(content);
    }
  });

  it('passes non-errors through', () => {
    expect(serializeError('plain')).to.equal('plain');
    expect(serializeError(42)).to.equal(42);
  });
});
