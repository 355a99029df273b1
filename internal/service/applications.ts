import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ApplicationRepository } from '../domain/ports.js';
import type { Page } from '../domain/model.js';
import { IdempotencyKeyReusedError, NotFoundError } from '../domain/errors.js';
import { applicationView, type ApplicationView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { NumberAllocator } from '../counters/numbers.js';
import type { KeySpace } from '../counters/keys.js';
import type { Logger } from '../log/logger.js';
import { fingerprint } from './idempotency.js';

interface PendingApplication {
  readonly fingerprint: string;
  readonly token: string;
  readonly response?: ApplicationView;
}

export interface ApplicationServiceDeps {
  readonly applications: ApplicationRepository;
  readonly numbers: NumberAllocator;
  readonly redis: Redis;
  readonly keys: KeySpace;
  readonly idempotencyTtlSeconds: number;
  readonly logger: Logger;
}

/** Applications are created synchronously in MySQL, then registered for numbering. */
export class ApplicationService {
  constructor(private readonly deps: ApplicationServiceDeps) {}

  async create(
    name: string,
    idempotencyKey: string | null,
  ): Promise<{ view: ApplicationView; replayed: boolean }> {
    if (idempotencyKey === null)
      return { view: await this.insert(randomUUID(), name), replayed: false };
    const key = this.deps.keys.idempotency(null, 'application', idempotencyKey);
    const print = fingerprint({ application_name: name });
    const fresh: PendingApplication = { fingerprint: print, token: randomUUID() };
    const claimed = await this.deps.redis.set(
      key,
      JSON.stringify(fresh),
      'EX',
      this.deps.idempotencyTtlSeconds,
      'NX',
    );
    const record =
      claimed === 'OK'
        ? fresh
        : (JSON.parse((await this.deps.redis.get(key)) ?? 'null') as PendingApplication | null);
    if (record === null) return this.create(name, idempotencyKey);
    if (record.fingerprint !== print) throw new IdempotencyKeyReusedError();
    if (record.response !== undefined) return { view: record.response, replayed: true };
    // First attempt, or a retry of one that did not finish: the token was fixed up front.
    const view = await this.insertOnce(record.token, name);
    await this.deps.redis.set(key, JSON.stringify({ ...record, response: view }), 'KEEPTTL');
    return { view, replayed: claimed !== 'OK' };
  }

  async get(token: string): Promise<ApplicationView> {
    const app = isWellFormedToken(token) ? await this.deps.applications.findByToken(token) : null;
    if (app === null) throw new NotFoundError('application');
    return applicationView(app);
  }

  async rename(token: string, name: string): Promise<ApplicationView> {
    const app = isWellFormedToken(token) ? await this.deps.applications.rename(token, name) : null;
    if (app === null) throw new NotFoundError('application');
    return applicationView(app);
  }

  async list(limit: number, after: string | null): Promise<Page<ApplicationView>> {
    const page = await this.deps.applications.list(limit, after);
    return { items: page.items.map(applicationView), next: page.next };
  }

  /** Two retries of one keyed create may race: the loser reads the winner's row. */
  private async insertOnce(token: string, name: string): Promise<ApplicationView> {
    const existing = await this.deps.applications.findByToken(token);
    if (existing !== null) return applicationView(existing);
    try {
      return await this.insert(token, name);
    } catch (err) {
      const raced =
        err instanceof Error && err.name === 'SequelizeUniqueConstraintError'
          ? await this.deps.applications.findByToken(token)
          : null;
      if (raced === null) throw err;
      return applicationView(raced);
    }
  }

  private async insert(token: string, name: string): Promise<ApplicationView> {
    const app = await this.deps.applications.create(token, name);
    // Numbering re-seeds itself from MySQL when this key is missing, so a failure here
    // costs one extra query later, not the create.
    await this.deps.numbers
      .registerApplication(token)
      .catch((err: unknown) =>
        this.deps.logger.warn(
          { err: (err as Error).message },
          'could not register application in redis',
        ),
      );
    return applicationView(app);
  }
}
