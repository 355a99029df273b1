import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type {
  CommitPosition,
  PrimaryPosition,
  ReadViews,
  ReplicaRead,
  ReplicaSessions,
  SearchPort,
  StreamPosition,
} from '../domain/ports.js';
import type { Models } from './models.js';
import { SqlApplicationRepository } from './repositories/applications.js';
import { SqlChatRepository } from './repositories/chats.js';
import { SqlMessageRepository } from './repositories/messages.js';

/**
 * Whose GTIDs: MariaDB's (`domain-server-seq`, one per domain, waited for with
 * MASTER_GTID_WAIT) or MySQL's (`uuid:interval[:interval]`, a set, waited for with
 * WAIT_FOR_EXECUTED_GTID_SET).
 */
export type GtidFlavour = 'mariadb' | 'mysql';

/** The server's flavour, asked once per pool. */
export function flavourOf(sequelize: Sequelize): () => Promise<GtidFlavour> {
  let asked: Promise<GtidFlavour> | null = null;
  return () => {
    asked ??= sequelize
      .query<{ v: string }>('SELECT VERSION() AS v', { type: QueryTypes.SELECT })
      .then((rows) => (/mariadb/i.test(rows[0]?.v ?? '') ? 'mariadb' : 'mysql'));
    // A failed question is asked again next time.
    asked.catch(() => (asked = null));
    return asked;
  };
}

/**
 * Parses a server's GTID position: MariaDB's `@@gtid_binlog_pos` (`0-1-42,1-3-7`: per domain
 * the last GTID) or MySQL's `@@gtid_executed` (`uuid:1-42:50-60,uuid2:1-7`). Each stream keeps
 * its element as written; its `seq` is the highest number in it. A MySQL set only grows, so of
 * two elements of one uuid the one with the higher end contains the other.
 */
export function parsePosition(flavour: GtidFlavour, text: string): CommitPosition {
  const position: StreamPosition[] = [];
  for (const raw of text.split(',')) {
    const gtid = raw.trim();
    if (gtid === '') continue;
    if (flavour === 'mariadb') {
      const match = /^([0-9]+)-[0-9]+-([0-9]+)$/.exec(gtid);
      if (match?.[1] === undefined || match[2] === undefined) throw badPosition(gtid);
      position.push({ stream: match[1], seq: Number(match[2]), gtid });
    } else {
      const [uuid, ...intervals] = gtid.split(':');
      const ends = intervals.map((i) => Number(i.split('-').at(-1)));
      if (uuid === undefined || ends.length === 0 || ends.some((n) => !Number.isSafeInteger(n)))
        throw badPosition(gtid);
      position.push({ stream: uuid.toLowerCase(), seq: Math.max(...ends), gtid });
    }
  }
  return position;
}

function badPosition(gtid: string): Error {
  return new Error(`unexpected GTID position element: ${JSON.stringify(gtid.slice(0, 80))}`);
}

export function formatPosition(position: CommitPosition): string {
  return position.map((p) => p.gtid).join(',');
}

/** The primary's position now: every transaction committed before this call is at or below it. */
export class SqlPrimaryPosition implements PrimaryPosition {
  private readonly flavour: () => Promise<GtidFlavour>;

  constructor(private readonly primary: Sequelize) {
    this.flavour = flavourOf(primary);
  }

  async current(): Promise<CommitPosition | null> {
    const flavour = await this.flavour();
    const rows = await this.primary.query<{ p: string | null }>(
      flavour === 'mariadb'
        ? 'SELECT @@global.gtid_binlog_pos AS p'
        : 'SELECT @@global.gtid_executed AS p',
      { type: QueryTypes.SELECT },
    );
    const position = parsePosition(flavour, rows[0]?.p ?? '');
    // Without a binary log there is nothing a replica could be waited for.
    return position.length === 0 ? null : position;
  }
}

/**
 * Reads on a replica (MYSQL_READ_URL), each in a transaction of its own so that the wait for
 * the position and the reads run on one connection: behind a load balancer, two pooled
 * connections may reach two different replicas. The snapshot is taken at the first read, after
 * the wait.
 */
export class SqlReplicaSessions implements ReplicaSessions {
  private readonly flavour: () => Promise<GtidFlavour>;

  /** `search`: the built-in MySQL search bound to a session, when that is the backend. */
  constructor(
    private readonly replica: Sequelize,
    private readonly models: Models,
    private readonly waitMs: number,
    private readonly search?: (replica: Sequelize, session: Transaction) => SearchPort,
  ) {
    this.flavour = flavourOf(replica);
  }

  async at<T>(
    position: CommitPosition,
    read: (views: ReadViews) => Promise<T>,
  ): Promise<ReplicaRead<T>> {
    const flavour = await this.flavour();
    return this.replica.transaction(async (transaction): Promise<ReplicaRead<T>> => {
      const rows = await this.replica.query<{ r: number | string | null }>(
        flavour === 'mariadb'
          ? 'SELECT MASTER_GTID_WAIT(?, ?) AS r'
          : 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r',
        {
          replacements: [formatPosition(position), this.waitMs / 1000],
          type: QueryTypes.SELECT,
          transaction,
        },
      );
      // 0: applied. MariaDB answers -1 on timeout and NULL when it cannot wait (not a replica
      // of that primary); MySQL answers 1 on timeout.
      const answer = rows[0]?.r;
      if (answer === null || answer === undefined || Number(answer) !== 0)
        return { reached: false };
      const views: ReadViews = {
        applications: new SqlApplicationRepository(this.replica, this.models, transaction),
        chats: new SqlChatRepository(this.replica, transaction),
        messages: new SqlMessageRepository(this.replica, transaction),
        ...(this.search === undefined ? {} : { search: this.search(this.replica, transaction) }),
      };
      return { reached: true, value: await read(views) };
    });
  }
}
