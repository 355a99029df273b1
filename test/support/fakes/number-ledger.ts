import type { NumberLedger, NumberScope } from '../../../internal/domain/ports.js';

/**
 * In-memory NumberLedger: applications, persisted chats and messages (as the consumer would
 * have written them), ceilings per scope and epochs, with a clock the test moves.
 */
export class FakeNumberLedger implements NumberLedger {
  readonly applications = new Set<string>();
  /** Tombstones: `token` for an application, `token:N` for chat N. */
  readonly deleted = new Set<string>();
  /** token → chat number → highest persisted message number. */
  readonly persisted = new Map<string, Map<number, number>>();
  readonly ceilings = new Map<string, number>();
  readonly epochs: { started: number; settled: boolean }[] = [];
  reservations = 0;
  now = 0;

  addApplication(token: string): void {
    this.applications.add(token);
    this.persisted.set(token, new Map());
  }

  /** What the consumer persisted: a chat row, and optionally its highest message number. */
  persist(token: string, chat: number, maxMessage = 0): void {
    const chats = this.persisted.get(token);
    if (chats === undefined) throw new Error('no such application');
    chats.set(chat, Math.max(chats.get(chat) ?? 0, maxMessage));
  }

  /** The consumer persisted the epoch's fence. */
  settle(epoch: number): void {
    const row = this.epochs[epoch - 1];
    if (row !== undefined) row.settled = true;
  }

  chatsFloor(token: string): Promise<number | null> {
    const chats = this.persisted.get(token);
    if (chats === undefined || this.deleted.has(token)) return Promise.resolve(null);
    const max = Math.max(0, ...chats.keys());
    return Promise.resolve(Math.max(max, this.ceilings.get(`${token}:0`) ?? 0));
  }

  chatFloor(token: string, chat: number) {
    const persisted = this.persisted.get(token)?.get(chat);
    const floor = Math.max(persisted ?? 0, this.ceilings.get(`${token}:${chat}`) ?? 0);
    const deleted = this.deleted.has(token) || this.deleted.has(`${token}:${chat}`);
    return Promise.resolve({ persisted: persisted !== undefined, deleted, messagesFloor: floor });
  }

  reserve(token: string, scope: NumberScope, floor: number, block: number) {
    if (!this.applications.has(token) || this.deleted.has(token)) return Promise.resolve(null);
    this.reservations += 1;
    const key = `${token}:${scope.kind === 'chats' ? 0 : scope.chat}`;
    const ceiling = Math.max(this.ceilings.get(key) ?? 0, floor) + block;
    this.ceilings.set(key, ceiling);
    return Promise.resolve(ceiling);
  }

  beginEpoch(): Promise<number> {
    this.epochs.push({ started: this.now, settled: false });
    return Promise.resolve(this.epochs.length);
  }

  epochState(epoch: number) {
    const row = this.epochs[epoch - 1];
    return Promise.resolve({
      settled: row?.settled ?? false,
      ageMs: row === undefined ? 0 : this.now - row.started,
    });
  }
}
