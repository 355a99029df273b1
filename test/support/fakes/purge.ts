import type { PurgeStore, PurgeTask } from '../../../internal/domain/ports.js';

/**
 * purge_queue in memory: tasks with how many rows each still has, oldest first. `failAfter`
 * makes purgeSome fail once that many calls have succeeded, as a lost MySQL connection would.
 */
export class FakePurgeStore implements PurgeStore {
  readonly tasks: { task: PurgeTask; rows: number }[] = [];
  /** Every purgeSome call: the task's id and the limit it was given. */
  readonly calls: { id: number; limit: number }[] = [];
  readonly finished: PurgeTask[] = [];
  failAfter = Infinity;

  queue(task: PurgeTask, rows: number): void {
    this.tasks.push({ task, rows });
  }

  next(): Promise<PurgeTask | null> {
    return Promise.resolve(this.tasks[0]?.task ?? null);
  }

  purgeSome(task: PurgeTask, limit: number): Promise<number> {
    if (this.failAfter <= 0) return Promise.reject(new Error('mysql unreachable'));
    this.failAfter -= 1;
    this.calls.push({ id: task.id, limit });
    const entry = this.tasks.find((t) => t.task.id === task.id && t.task.kind === task.kind);
    if (entry === undefined) return Promise.resolve(0);
    const removed = Math.min(limit, entry.rows);
    entry.rows -= removed;
    return Promise.resolve(removed);
  }

  /** Chat numbers of application tasks, by task id. */
  readonly chats = new Map<number, number[]>();

  chatNumbers(task: PurgeTask): Promise<number[]> {
    return Promise.resolve(task.kind === 'application' ? (this.chats.get(task.id) ?? []) : []);
  }

  finish(task: PurgeTask): Promise<void> {
    const at = this.tasks.findIndex((t) => t.task.id === task.id && t.task.kind === task.kind);
    if (at !== -1) this.tasks.splice(at, 1);
    this.finished.push(task);
    return Promise.resolve();
  }

  backlog(): Promise<number> {
    return Promise.resolve(this.tasks.length);
  }

  /** Rows still to purge for the task with this id. */
  rowsOf(id: number): number | undefined {
    return this.tasks.find((t) => t.task.id === id)?.rows;
  }
}
