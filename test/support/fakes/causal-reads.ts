import type {
  CommitPosition,
  PositionStore,
  PrimaryPosition,
  ReadViews,
  ReplicaRead,
  ReplicaSessions,
} from '../../../internal/domain/ports.js';

/** A primary whose one replication stream advances by one per commit. */
export class FakePrimaryPosition implements PrimaryPosition {
  seq = 0;
  /** False: no binary log (no GTIDs). */
  gtids = true;

  commit(): void {
    this.seq += 1;
  }

  current(): Promise<CommitPosition | null> {
    if (!this.gtids) return Promise.resolve(null);
    return Promise.resolve([{ stream: '0', seq: this.seq, gtid: `0-1-${this.seq}` }]);
  }
}

/** Positions per application, merged stream by stream as the Redis script does. */
export class FakePositionStore implements PositionStore {
  readonly kept = new Map<string, Map<string, CommitPosition[number]>>();
  failWith: Error | null = null;

  advance(token: string, position: CommitPosition): Promise<void> {
    if (this.failWith !== null) return Promise.reject(this.failWith);
    const streams = this.kept.get(token) ?? new Map<string, CommitPosition[number]>();
    for (const p of position) {
      if ((streams.get(p.stream)?.seq ?? -1) < p.seq) streams.set(p.stream, p);
    }
    this.kept.set(token, streams);
    return Promise.resolve();
  }

  get(token: string): Promise<CommitPosition | null> {
    if (this.failWith !== null) return Promise.reject(this.failWith);
    const streams = this.kept.get(token);
    return Promise.resolve(streams === undefined ? null : [...streams.values()]);
  }
}

/** A replica that has applied the primary's commits up to `applied`, with its own views. */
export class FakeReplicaSessions implements ReplicaSessions {
  applied = 0;
  failWith: Error | null = null;
  readonly waitedFor: number[] = [];

  constructor(private readonly views: ReadViews) {}

  async at<T>(
    position: CommitPosition,
    read: (views: ReadViews) => Promise<T>,
  ): Promise<ReplicaRead<T>> {
    if (this.failWith !== null) throw this.failWith;
    const needed = Math.max(0, ...position.map((p) => p.seq));
    this.waitedFor.push(needed);
    if (this.applied < needed) return { reached: false };
    return { reached: true, value: await read(this.views) };
  }
}
