import { randomUUID } from 'node:crypto';
import type { ApplicationKeys, ApplicationRepository } from '../domain/ports.js';
import type { Page } from '../domain/model.js';
import { IdempotencyKeyReusedError, NotFoundError } from '../domain/errors.js';
import { applicationView, type ApplicationView } from '../domain/representation.js';
import { isWellFormedToken } from '../domain/validation.js';
import type { Logger } from '../log/logger.js';
import type { Numbering } from './numbering.js';
import { fingerprint } from './idempotency.js';
import type { CausalReads } from './causal-reads.js';

export interface ApplicationServiceDeps {
  readonly applications: ApplicationRepository;
  readonly numbering: Pick<Numbering, 'register' | 'markDeleted'>;
  readonly keys: ApplicationKeys;
  readonly logger: Logger;
  /** Reads on a MySQL replica that include every write answered; absent: the repository. */
  readonly reads?: CausalReads;
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
    // The token is fixed when the key is first claimed, so a retry (or a racing duplicate)
    // creates or finds the very same application; the record holds no response.
    const print = fingerprint({ application_name: name });
    const fresh = { fingerprint: print, token: randomUUID() };
    const claim = await this.deps.keys.claim(idempotencyKey, fresh);
    if (claim.fingerprint !== print) throw new IdempotencyKeyReusedError();
    const existing = await this.deps.applications.findByToken(claim.token);
    if (existing !== null) return { view: applicationView(existing), replayed: true };
    return {
      view: await this.insertOnce(claim.token, name),
      replayed: claim.token !== fresh.token,
    };
  }

  async get(token: string): Promise<ApplicationView> {
    const { reads, applications } = this.deps;
    const app = !isWellFormedToken(token)
      ? null
      : reads === undefined
        ? await applications.findByToken(token)
        : await reads.read(token, (db) => db.applications.findByToken(token));
    if (app === null) throw new NotFoundError('application');
    return applicationView(app);
  }

  async rename(token: string, name: string): Promise<ApplicationView> {
    const app = isWellFormedToken(token) ? await this.deps.applications.rename(token, name) : null;
    if (app === null) throw new NotFoundError('application');
    await this.deps.reads?.wrote(token);
    return applicationView(app);
  }

  /**
   * Deletes an application in one row update, whatever its size: the token stops working at
   * once (numbering first, so no create is numbered for it once the tombstone is visible) and
   * its chats and messages are purged in the background.
   */
  async delete(token: string): Promise<void> {
    const app = isWellFormedToken(token) ? await this.deps.applications.findByToken(token) : null;
    if (app === null) throw new NotFoundError('application');
    await this.deps.numbering.markDeleted(token, null);
    if ((await this.deps.applications.markDeleted(token)) === null) {
      throw new NotFoundError('application');
    }
    await this.deps.reads?.wrote(token);
  }

  async list(limit: number, after: string | null): Promise<Page<ApplicationView>> {
    const page = await this.deps.applications.list(limit, after);
    return { items: page.items.map(applicationView), next: page.next };
  }

  /** Two retries of one keyed create may race: the loser reads the winner's row. */
  private async insertOnce(token: string, name: string): Promise<ApplicationView> {
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
    // Numbering revalidates from MySQL when the application is missing in Redis, so a
    // failure here costs one extra query later, not the create.
    await this.deps.numbering
      .register(token)
      .catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'could not register the application for numbering'),
      );
    // No position is recorded for a new application: a read that finds none waits for the
    // primary's position at that moment, which includes this insert.
    return applicationView(app);
  }
}
