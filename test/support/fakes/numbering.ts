import { Numbering } from '../../../internal/service/numbering.js';
import { QueuedCreates } from '../../../internal/service/queued-create.js';
import type { PendingCreates } from '../../../internal/domain/ports.js';
import { silentLogger } from '../environment.js';
import { FakeNumberCache } from './number-cache.js';
import { FakeNumberLedger } from './number-ledger.js';
import { FakePublisher } from './publisher.js';

const ignore = () => undefined;

/**
 * The create path's numbering on fakes, for one application `token` the ledger knows; with
 * `pending`, creates keep their representation there (read-your-writes).
 */
export function numberingOnFakes(token: string, pending?: PendingCreates) {
  const cache = new FakeNumberCache();
  const ledger = new FakeNumberLedger();
  ledger.addApplication(token);
  const publisher = new FakePublisher();
  const numbering = new Numbering(
    cache,
    ledger,
    publisher,
    { blockMin: 4, blockMax: 100, createDeadlineMs: 5_000, fenceMarginMs: 1_000 },
    { reserved: ignore, revalidated: ignore, epochBegan: ignore, pending: ignore },
    silentLogger,
  );
  const creates = new QueuedCreates({
    numbering,
    publisher,
    cache,
    logger: silentLogger,
    ...(pending === undefined ? {} : { pending }),
  });
  return { cache, ledger, publisher, numbering, creates };
}
