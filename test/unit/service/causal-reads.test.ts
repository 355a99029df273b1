import { expect } from 'chai';
import type { ReadViews } from '../../../internal/domain/ports.js';
import type { Application } from '../../../internal/domain/model.js';
import { NotFoundError } from '../../../internal/domain/errors.js';
import {
  CausalReads,
  CommitPositions,
  type ReadRoute,
} from '../../../internal/service/causal-reads.js';
import { silentLogger } from '../../support/environment.js';
import {
  FakePositionStore,
  FakePrimaryPosition,
  FakeReplicaSessions,
} from '../../support/fakes/causal-reads.js';

/** Views that answer which side they are. */
function views(side: string): ReadViews {
  const none = () => Promise.resolve(null);
  return {
    applications: {
      findByToken: (token) => Promise.resolve({ token, name: side } as unknown as Application),
    },
    chats: { find: none, list: () => Promise.resolve({ items: [], next: null }) },
    messages: { find: none, list: () => Promise.resolve({ items: [], next: null }) },
  };
}

describe('CausalReads: a replica read only once it applied the application’s writes', () => {
  let primary: FakePrimaryPosition;
  let store: FakePositionStore;
  let replica: FakeReplicaSessions;
  let routes: ReadRoute[];
  let reads: CausalReads;
  const nameOf = (token: string) =>
    reads.read(token, async (db) => (await db.applications.findByToken(token))?.name);

  beforeEach(() => {
    primary = new FakePrimaryPosition();
    store = new FakePositionStore();
    replica = new FakeReplicaSessions(views('replica'));
    routes = [];
    reads = new CausalReads({
      primary: views('primary'),
      replica,
      positions: new CommitPositions(primary, store),
      logger: silentLogger,
      onRead: (route) => routes.push(route),
    });
  });

  it('waits for the position the application’s last write recorded, not for others’', async () => {
    primary.commit();
    await reads.wrote('a');
    primary.commit();
    primary.commit();
    await reads.wrote('b');
    replica.applied = 1;
    expect(await nameOf('a')).to.equal('replica');
    expect(await nameOf('b')).to.equal('primary');
    expect(routes).to.deep.equal(['replica', 'primary_lagging']);
    replica.applied = 3;
    expect(await nameOf('b')).to.equal('replica');
  });

  it('without a kept position waits for the primary’s position now, and keeps it', async () => {
    primary.commit();
    primary.commit();
    replica.applied = 1;
    expect(await nameOf('new')).to.equal('primary');
    primary.commit();
    replica.applied = 2;
    // The kept position is the one of the first read (2), not the primary's newer one (3).
    expect(await nameOf('new')).to.equal('replica');
    expect(replica.waitedFor).to.deep.equal([2, 2]);
  });

  it('positions only rise, whatever order writers report in', async () => {
    primary.seq = 5;
    await reads.wrote('a');
    await store.advance('a', [{ stream: '0', seq: 3, gtid: '0-1-3' }]);
    expect((await store.get('a'))?.[0]?.seq).to.equal(5);
  });

  it('reads the primary when the replica fails, the position is unavailable, or there are no GTIDs', async () => {
    replica.failWith = new Error('connection refused');
    expect(await nameOf('a')).to.equal('primary');
    replica.failWith = null;
    store.failWith = new Error('redis down');
    expect(await nameOf('a')).to.equal('primary');
    store.failWith = null;
    primary.gtids = false;
    expect(await nameOf('b')).to.equal('primary');
    expect(routes).to.deep.equal([
      'primary_replica_error',
      'primary_position_unavailable',
      'primary_no_gtid',
    ]);
  });

  it('passes the read’s own answer through instead of retrying it on the primary', async () => {
    replica.applied = 10;
    const failing = await reads
      .read('a', () => Promise.reject(new NotFoundError('chat')))
      .catch((err: unknown) => err);
    expect(failing).to.be.instanceOf(NotFoundError);
    expect(routes).to.deep.equal([]);
  });

  it('a write whose position cannot be kept fails, so it is not answered as readable', async () => {
    primary.commit();
    store.failWith = new Error('redis down');
    const failed = await reads.wrote('a').then(
      () => null,
      (err: Error) => err.message,
    );
    expect(failed).to.equal('redis down');
  });

  it('records without reading a replica when asked to (turning replica reads on)', async () => {
    const recording = new CausalReads({
      primary: views('primary'),
      replica: null,
      recording: true,
      positions: new CommitPositions(primary, store),
      logger: silentLogger,
    });
    primary.commit();
    await recording.wrote('a');
    expect((await store.get('a'))?.[0]?.seq).to.equal(1);
    expect(
      await recording.read('a', async (db) => (await db.applications.findByToken('a'))?.name),
    ).to.equal('primary');
  });

  it('without a replica reads the primary and records nothing', async () => {
    const direct = new CausalReads({
      primary: views('primary'),
      replica: null,
      positions: new CommitPositions(primary, store),
      logger: silentLogger,
    });
    await direct.wrote('a');
    expect(store.kept.size).to.equal(0);
    expect(
      await direct.read('a', async (db) => (await db.applications.findByToken('a'))?.name),
    ).to.equal('primary');
  });
});
