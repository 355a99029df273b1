import type { CounterRecounts, DirtyKind, DirtyMarks } from '../../../internal/domain/ports.js';

/**
 * Dirty marks in memory with the Redis sets' semantics: `take` hands out what is marked plus
 * what an earlier take handed out and was not `done` (a crashed run's work comes back).
 */
export class FakeDirtyMarks implements DirtyMarks {
  private readonly marked = { apps: new Set<number>(), chats: new Set<number>() };
  private readonly taken = { apps: new Set<number>(), chats: new Set<number>() };
  /** Every mark() call, in order. */
  readonly marks: [number[], number[]][] = [];
  /** Fails the next this-many mark() calls, as a Redis outage would. */
  failMarks = 0;

  mark(applicationIds: readonly number[], chatIds: readonly number[]): Promise<void> {
    if (this.failMarks > 0) {
      this.failMarks -= 1;
      return Promise.reject(new Error('redis down'));
    }
    this.marks.push([[...applicationIds], [...chatIds]]);
    for (const id of applicationIds) this.marked.apps.add(id);
    for (const id of chatIds) this.marked.chats.add(id);
    return Promise.resolve();
  }

  take(kind: DirtyKind): Promise<number[]> {
    for (const id of this.marked[kind]) this.taken[kind].add(id);
    this.marked[kind].clear();
    return Promise.resolve([...this.taken[kind]]);
  }

  done(kind: DirtyKind, ids: readonly number[]): Promise<void> {
    for (const id of ids) this.taken[kind].delete(id);
    return Promise.resolve();
  }

  /** Ids still waiting for a flush (marked, or taken and not done). */
  pending(kind: DirtyKind): number[] {
    return [...new Set([...this.marked[kind], ...this.taken[kind]])].sort((a, b) => a - b);
  }
}

/** Records which ids were recounted, chunk by chunk; `failOn` makes a chunk's recount fail. */
export class FakeCounterRecounts implements CounterRecounts {
  readonly chats: number[][] = [];
  readonly applications: number[][] = [];
  failOn: ((kind: DirtyKind, ids: readonly number[]) => boolean) | null = null;

  recountChats(chatIds: readonly number[]): Promise<number> {
    return this.record('chats', this.chats, chatIds);
  }

  recountApplications(applicationIds: readonly number[]): Promise<number> {
    return this.record('apps', this.applications, applicationIds);
  }

  private record(kind: DirtyKind, into: number[][], ids: readonly number[]): Promise<number> {
    if (this.failOn?.(kind, ids) === true) return Promise.reject(new Error('mysql down'));
    into.push([...ids]);
    return Promise.resolve(ids.length);
  }
}
