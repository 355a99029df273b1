import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../../internal/runtime/main.js';
import { createLogger } from '../../internal/log/logger.js';
import { createSequelize } from '../../internal/db/sequelize.js';
import { maxMessageId, messageBatches } from '../../internal/db/repositories/message-source.js';
import { parseNumberParam, isWellFormedToken } from '../../internal/domain/validation.js';
import { createElasticsearchClient } from '../../internal/search/elasticsearch/client.js';
import { MysqlTrigramBackfill } from '../../internal/search/mysql-trigrams.js';
import {
  reindexAll,
  reindexChat,
  type ReindexProgress,
} from '../../internal/search/elasticsearch/reindex.js';

// Rebuilds the Elasticsearch index from MySQL, with progress on stdout. Without
// ELASTICSEARCH_URL it finishes the built-in search's trigram backfill instead.
//   --all (default)          a fresh index behind the alias, switched atomically: no downtime
//   --app TOKEN --chat N     one chat, in place
//   --catch-up-minutes M     edits this far before the start are indexed again after the switch
const { values } = parseArgs({
  options: {
    all: { type: 'boolean', default: false },
    app: { type: 'string' },
    chat: { type: 'string' },
    'catch-up-minutes': { type: 'string', default: '10' },
  },
});

const config = loadConfigOrExit('reindex');
const logger = createLogger('reindex', config.logLevel);
if (config.elasticsearch === undefined) {
  // The built-in search: the consumer backfills its trigram index by itself while idle; this
  // runs that backfill to the end now, from where it stopped (it is resumable).
  const sequelize = createSequelize(config.mysql);
  let code = 0;
  try {
    const backfill = new MysqlTrigramBackfill(sequelize);
    let total = 0;
    for (let batch = 1; ; batch += 1) {
      const { indexed, finished } = await backfill.step();
      total += indexed;
      process.stdout.write(`${JSON.stringify({ kind: 'trigrams', batch, total, finished })}\n`);
      if (finished) break;
    }
    logger.info({ total }, 'trigram backfill finished');
  } catch (err) {
    logger.error({ err }, 'trigram backfill failed');
    code = 1;
  } finally {
    await sequelize.close();
  }
  process.exit(code);
}
const LATE_COMMIT_SLACK_IDS = 10_000;
const marginMs = Number(values['catch-up-minutes']) * 60_000;
if (!Number.isFinite(marginMs) || marginMs < 0) {
  process.stderr.write('reindex: --catch-up-minutes must be a non-negative number.\n');
  process.exit(2);
}
if ((values.app === undefined) !== (values.chat === undefined)) {
  process.stderr.write('reindex: --app and --chat go together.\n');
  process.exit(2);
}
if (values.app !== undefined && !isWellFormedToken(values.app)) {
  process.stderr.write('reindex: --app must be an application token.\n');
  process.exit(2);
}

const progress = (p: ReindexProgress) => process.stdout.write(`${JSON.stringify(p)}\n`);
const sequelize = createSequelize(config.mysql);
const client = createElasticsearchClient(config.elasticsearch);
const alias = config.elasticsearch.index;
let code = 0;
try {
  if (values.app !== undefined && values.chat !== undefined) {
    const scope = {
      applicationToken: values.app,
      chatNumber: parseNumberParam(values.chat, 'chat'),
    };
    const result = await reindexChat({
      client,
      alias,
      scope,
      source: messageBatches(sequelize, { scope }),
      onProgress: progress,
    });
    logger.info(result, 'chat reindexed');
  } else {
    // Rows written while the load runs reach the old index only (through the alias): the
    // catch-up indexes every row inserted after the load started (ids, with slack for
    // transactions that committed late) and every row edited since (time, with a margin).
    const idAbove = Math.max(0, (await maxMessageId(sequelize)) - LATE_COMMIT_SLACK_IDS);
    const result = await reindexAll({
      client,
      alias,
      source: messageBatches(sequelize),
      catchUp: (startedAt) =>
        messageBatches(sequelize, {
          changedSince: { updatedSince: new Date(startedAt.getTime() - marginMs), idAbove },
        }),
      onProgress: progress,
    });
    logger.info(result, 'reindex finished');
  }
} catch (err) {
  logger.error({ err }, 'reindex failed');
  code = 1;
} finally {
  await sequelize.close();
  await client.close();
}
process.exit(code);
