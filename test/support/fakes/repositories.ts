import type {
  ApplicationKeys,
  ApplicationRepository,
  ChatRepository,
  ChatState,
  MessageRepository,
  MessageState,
  RecordState,
} from '../../../internal/domain/ports.js';
import type { Application, Chat, Message, Page } from '../../../internal/domain/model.js';

const page = <T>(items: T[]): Page<T> => ({ items, next: null });

/**
 * In-memory applications; a second insert of the same token fails as a unique key would. A
 * deleted one keeps its token (a tombstone) and is invisible to every read.
 */
export class FakeApplications implements ApplicationRepository {
  readonly rows = new Map<string, Application>();
  readonly deleted = new Set<string>();
  inserts = 0;

  create(token: string, name: string): Promise<Application> {
    this.inserts += 1;
    if (this.rows.has(token)) {
      const err = new Error('duplicate token');
      err.name = 'SequelizeUniqueConstraintError';
      return Promise.reject(err);
    }
    const at = new Date();
    const app = {
      id: this.rows.size + 1,
      token,
      name,
      chatsCount: 0,
      createdAt: at,
      updatedAt: at,
    };
    this.rows.set(token, app);
    return Promise.resolve(app);
  }
  findByToken(token: string) {
    return Promise.resolve(this.deleted.has(token) ? null : (this.rows.get(token) ?? null));
  }
  rename(token: string, name: string) {
    const app = this.rows.get(token);
    if (app === undefined || this.deleted.has(token)) return Promise.resolve(null);
    const renamed = { ...app, name };
    this.rows.set(token, renamed);
    return Promise.resolve(renamed);
  }
  list(): Promise<Page<Application>> {
    return Promise.resolve(page([...this.rows.values()].filter((a) => !this.deleted.has(a.token))));
  }
  maxChatNumber(): Promise<number | null> {
    return Promise.resolve(null);
  }
  markDeleted(token: string): Promise<number | null> {
    const app = this.rows.get(token);
    if (app === undefined || this.deleted.has(token)) return Promise.resolve(null);
    this.deleted.add(token);
    return Promise.resolve(app.id);
  }
}

const state = (live: boolean, deleted: boolean): RecordState =>
  deleted ? 'deleted' : live ? 'live' : 'missing';

/**
 * In-memory chats of `applications`. `deleted` holds tombstones (`token:N`), whether or not the
 * chat has a row: a delete of a chat still queued leaves one too.
 */
export class FakeChats implements ChatRepository {
  readonly rows: Chat[] = [];
  readonly deleted = new Set<string>();
  constructor(readonly applications = new FakeApplications()) {}
  private live(token: string, number: number): Chat | undefined {
    if (this.applications.deleted.has(token) || this.deleted.has(`${token}:${number}`)) {
      return undefined;
    }
    return this.rows.find((c) => c.applicationToken === token && c.number === number);
  }
  find(token: string, number: number) {
    return Promise.resolve(this.live(token, number) ?? null);
  }
  list(token: string) {
    return Promise.resolve(
      page(this.rows.filter((c) => c.applicationToken === token && this.live(token, c.number))),
    );
  }
  rename(token: string, number: number, name: string | null) {
    const chat = this.live(token, number);
    return Promise.resolve(chat === undefined ? null : { ...chat, name });
  }
  maxMessageNumber(): Promise<number> {
    return Promise.resolve(0);
  }
  async state(token: string, number: number): Promise<ChatState> {
    const application = (await this.applications.findByToken(token)) !== null;
    const row = this.rows.some((c) => c.applicationToken === token && c.number === number);
    return { application, chat: state(row, this.deleted.has(`${token}:${number}`)) };
  }
  async markDeleted(token: string, number: number) {
    const app = await this.applications.findByToken(token);
    if (app === null || this.deleted.has(`${token}:${number}`)) return null;
    this.deleted.add(`${token}:${number}`);
    return { applicationId: app.id };
  }
}

/** In-memory messages of `chats`; `deleted` holds tombstones (`token:chat:N`). */
export class FakeMessages implements MessageRepository {
  readonly rows: Message[] = [];
  readonly deleted = new Set<string>();
  constructor(readonly chats = new FakeChats()) {}
  private gone(token: string, chatNumber: number, number: number): boolean {
    return (
      this.chats.applications.deleted.has(token) ||
      this.chats.deleted.has(`${token}:${chatNumber}`) ||
      this.deleted.has(`${token}:${chatNumber}:${number}`)
    );
  }
  private live(token: string, chatNumber: number, number: number): Message | undefined {
    if (this.gone(token, chatNumber, number)) return undefined;
    return this.rows.find(
      (m) => m.applicationToken === token && m.chatNumber === chatNumber && m.number === number,
    );
  }
  find(token: string, chatNumber: number, number: number) {
    return Promise.resolve(this.live(token, chatNumber, number) ?? null);
  }
  list(token: string, chatNumber: number) {
    return Promise.resolve(
      page(
        this.rows.filter(
          (m) =>
            m.applicationToken === token &&
            m.chatNumber === chatNumber &&
            !this.gone(token, chatNumber, m.number),
        ),
      ),
    );
  }
  edit(token: string, chatNumber: number, number: number, content: string) {
    const m = this.live(token, chatNumber, number);
    return Promise.resolve(m === undefined ? null : { ...m, content, updatedAt: new Date() });
  }
  async state(token: string, chatNumber: number, number: number): Promise<MessageState> {
    const chat = await this.chats.state(token, chatNumber);
    const row = this.rows.some(
      (m) => m.applicationToken === token && m.chatNumber === chatNumber && m.number === number,
    );
    const deleted = chat.chat === 'deleted' || this.deleted.has(`${token}:${chatNumber}:${number}`);
    return { ...chat, message: state(row, deleted) };
  }
  deletedAmong(token: string, chatNumber: number, numbers: readonly number[]) {
    return Promise.resolve(
      new Set(numbers.filter((n) => this.deleted.has(`${token}:${chatNumber}:${n}`))),
    );
  }
  async markDeleted(token: string, chatNumber: number, number: number) {
    const { application, chat } = await this.chats.state(token, chatNumber);
    const key = `${token}:${chatNumber}:${number}`;
    if (!application || chat === 'deleted' || this.deleted.has(key)) return null;
    this.deleted.add(key);
    return { chatId: chatNumber };
  }
}

/** Application Idempotency-Keys: the first claim holds, as SET NX would. */
export class FakeApplicationKeys implements ApplicationKeys {
  readonly claims = new Map<string, { fingerprint: string; token: string }>();
  async claim(key: string, claim: { fingerprint: string; token: string }) {
    await Promise.resolve(); // another request may claim meanwhile, as over the network
    const held = this.claims.get(key);
    if (held !== undefined) return held;
    this.claims.set(key, claim);
    return claim;
  }
}
