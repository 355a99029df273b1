import { expect } from 'chai';
import { serializeError } from '../../../internal/log/logger.js';

describe('log/serializeError', () => {
  it('drops the SQL (and its inlined tokens) of database errors, keeping message and code', () => {
    const token = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';
    const sql = `SELECT * FROM applications WHERE token = '${token}'`;
    const err = Object.assign(new Error('Deadlock found'), {
      name: 'SequelizeDatabaseError',
      sql,
      parameters: [token],
      original: { errno: 1213, sql },
      parent: { errno: 1213, sql },
    });
    const serialized = serializeError(err) as Record<string, unknown>;
    expect(JSON.stringify(serialized)).not.to.include(token);
    expect(serialized).to.include({ message: 'Deadlock found', name: 'SequelizeDatabaseError' });
  });

  it('passes non-errors through', () => {
    expect(serializeError('plain')).to.equal('plain');
  });
});
