import type { CounterRecounts, DirtyKind, DirtyMarks } from '../domain/ports.js';
import type { FlusherMetrics } from '../metrics/registry.js';
import type { Logger } from '../log/logger.js';

/** Splits sorted ids into chunks so each UPDATE stays short and holds few locks. */
export function planFlush(ids: readonly number[], chunkSize: number): number[][] {
  if (chunkSize < 1) throw new RangeError('chunkSize must be at least 1');
  const unique = [...new Set(ids)].sort((a, b) => a - b);
  const chunks: number[][] = [];
  for (let i = 0; i < unique.length; i += chunkSize) chunks.push(unique.slice(i, i + chunkSize));
  return chunks;
}

export interface FlushResult {
  readonly chats: number;
  readonly applications: number;
}

export interface CounterFlusherDeps {
  readonly dirty: Pick<DirtyMarks, 'take' | 'done'>;
  readonly counters: CounterRecounts;
  readonly chunkSize: number;
  readonly metrics: FlusherMetrics;
  readonly logger: Logger;
}

export class CounterFlusher {
  constructor(private readonly deps: CounterFlusherDeps) {}

  /** One pass; stops between chunks when the signal aborts (lost lock or shutdown). */
  async run(signal: AbortSignal): Promise<FlushResult> {
    const chats = await this.flush('chats', (ids) => this.deps.counters.recountChats(ids), signal);
    const applications = await this.flush(
      'apps',
      (ids) => this.deps.counters.recountApplications(ids),
      signal,
    );
    return { chats, applications };
  }

  private async flush(
    kind: DirtyKind,
    recount: (ids: number[]) => Promise<number>,
    signal: AbortSignal,
  ): Promise<number> {
    let total = 0;
    for (const chunk of planFlush(await this.deps.dirty.take(kind), this.deps.chunkSize)) {
      signal.throwIfAborted();
      await recount(chunk);
      await this.deps.dirty.done(kind, chunk);
      this.deps.metrics.rowsUpdated.inc(
        { table: kind === 'apps' ? 'applications' : 'chats' },
        chunk.length,
      );
      total += chunk.length;
    }
    return total;
  }
}
