import type {
  ApplicationKeys,
  ApplicationRepository,
  ChatRepository,
  MessageRepository,
} from '../../../internal/domain/ports.js';
import type { Application, Chat, Message, Page } from '../../../internal/domain/model.js';

const page = <T>(items: T[]): Page<T> => ({ items, next: null });

/** In-memory applications; a second insert of the same token fails as a unique key would. */
export class FakeApplications implements ApplicationRepository {
  readonly rows = new Map<string, Application>();
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
    return Promise.resolve(this.rows.get(token) ?? null);
  }
  rename(token: string, name: string) {
    const app = this.rows.get(token);
    if (app === undefined) return Promise.resolve(null);
    const renamed = { ...app, name };
    this.rows.set(token, renamed);
    return Promise.resolve(renamed);
  }
  list(): Promise<Page<Application>> {
    return Promise.resolve(page([...this.rows.values()]));
  }
  maxChatNumber(): Promise<number | null> {
    return Promise.resolve(null);
  }
}

export class FakeChats implements ChatRepository {
  readonly rows: Chat[] = [];
  find(token: string, number: number) {
    return Promise.resolve(
      this.rows.find((c) => c.applicationToken === token && c.number === number) ?? null,
    );
  }
  list(token: string) {
    return Promise.resolve(page(this.rows.filter((c) => c.applicationToken === token)));
  }
  rename(token: string, number: number, name: string | null) {
    const chat = this.rows.find((c) => c.applicationToken === token && c.number === number);
    return Promise.resolve(chat === undefined ? null : { ...chat, name });
  }
  maxMessageNumber(): Promise<number> {
    return Promise.resolve(0);
  }
}

export class FakeMessages implements MessageRepository {
  readonly rows: Message[] = [];
  find(token: string, chatNumber: number, number: number) {
    return Promise.resolve(
      this.rows.find(
        (m) => m.applicationToken === token && m.chatNumber === chatNumber && m.number === number,
      ) ?? null,
    );
  }
  list(token: string, chatNumber: number) {
    return Promise.resolve(
      page(this.rows.filter((m) => m.applicationToken === token && m.chatNumber === chatNumber)),
    );
  }
  edit(token: string, chatNumber: number, number: number, content: string) {
    const m = this.rows.find(
      (r) => r.applicationToken === token && r.chatNumber === chatNumber && r.number === number,
    );
    return Promise.resolve(m === undefined ? null : { ...m, content, updatedAt: new Date() });
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
