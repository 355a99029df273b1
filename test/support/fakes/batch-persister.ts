import type {
  BatchOutcome,
  BatchPersister,
  RejectedEvent,
} from '../../../internal/domain/ports.js';
import type { WriteEvent } from '../../../internal/domain/model.js';

/**
 * A write-batch store in memory: persists events once by event id (a redelivered event is
 * not written twice), refuses the events `reject` names, drops those `discard` names (their
 * parent was deleted), and throws what `failWith` returns for a batch (a lost connection, a
 * row too long) before writing any of it.
 */
export class FakeBatchPersister {
  readonly persisted = new Map<string, WriteEvent>();
  /** Every batch it was handed, in order (event ids). */
  readonly calls: string[][] = [];
  reject: (event: WriteEvent) => RejectedEvent['reason'] | null = () => null;
  discard: (event: WriteEvent) => boolean = () => false;
  failWith: (events: readonly WriteEvent[]) => Error | null = () => null;

  readonly persist: BatchPersister = (events) => {
    this.calls.push(events.map((e) => e.eventId));
    const failure = this.failWith(events);
    if (failure !== null) return Promise.reject(failure);
    const rejected: RejectedEvent[] = [];
    const discarded: WriteEvent[] = [];
    const apps = new Set<number>();
    const chats = new Set<number>();
    for (const event of events) {
      const reason = this.reject(event);
      if (reason !== null) {
        rejected.push({ event, reason });
        continue;
      }
      if (this.discard(event)) {
        discarded.push(event);
        continue;
      }
      this.persisted.set(event.eventId, event);
      apps.add(1);
      if (event.kind === 'message.created') chats.add(event.chatNumber);
    }
    const outcome: BatchOutcome = {
      rejected,
      discarded,
      touchedApplicationIds: [...apps],
      touchedChatIds: [...chats],
    };
    return Promise.resolve(outcome);
  };
}
