import { expect } from 'chai';
import { createSequelize } from '../../internal/db/sequelize.js';
import { isTransientDatabaseError } from '../../internal/db/errors.js';
import { asDependencyFailure } from '../../internal/http/dependency-errors.js';
import { TEST_MYSQL_URL, uniqueSuffix } from '../support/environment.js';
import { testRedis } from '../support/redis.js';

describe('dependency timeouts on real connections', function () {
  this.timeout(30_000);

  it('cuts off a MySQL statement after MYSQL_QUERY_TIMEOUT_MS and maps it to a 503', async () => {
    const sequelize = createSequelize({ url: TEST_MYSQL_URL, poolMax: 1, queryTimeoutMs: 300 });
    try {
      let caught: unknown;
      // A statement that reads rows for longer than the limit (SLEEP inside a SELECT).
      await sequelize
        .query('SELECT SLEEP(3) FROM (SELECT 1 UNION SELECT 2) AS t')
        .catch((err: unknown) => (caught = err));
      expect(caught, 'the statement was not cut off').to.be.instanceOf(Error);
      expect(isTransientDatabaseError(caught)).to.equal(true);
      expect(asDependencyFailure(caught)?.status).to.equal(503);
      // The connection stays usable for the next statement.
      const [rows] = await sequelize.query('SELECT 1 AS one');
      expect(rows).to.deep.equal([{ one: 1 }]);
    } finally {
      await sequelize.close();
    }
  });

  it('fails a Redis command without a reply after REDIS_COMMAND_TIMEOUT_MS with a 503', async () => {
    const redis = await testRedis('timeout-test', { commandTimeoutMs: 200, connect: false });
    try {
      await redis.connect();
      let caught: unknown;
      // Blocks only this connection, on a key nobody else uses, for at most one second.
      await redis
        .blpop(`cs-timeout-test-${uniqueSuffix()}`, 1)
        .catch((err: unknown) => (caught = err));
      expect(caught).to.be.instanceOf(Error);
      expect((caught as Error).message).to.equal('Command timed out');
      expect(asDependencyFailure(caught)?.status).to.equal(503);
    } finally {
      redis.disconnect();
    }
  });
});
