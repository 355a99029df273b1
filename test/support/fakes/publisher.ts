import type { WriteEvent } from '../../../internal/domain/model.js';
import type { PublishDeadline, WritePublisher } from '../../../internal/domain/ports.js';
import { BrokerUnavailableError } from '../../../internal/domain/errors.js';

/** Records what was published; can refuse like a blocked broker, or fail after sending. */
export class FakePublisher implements WritePublisher {
  readonly published: { event: WriteEvent; deadline: PublishDeadline }[] = [];
  accepting = true;
  /** When set, publish rejects with it (after recording the send). */
  failWith: Error | null = null;

  publish(event: WriteEvent, deadline: PublishDeadline): Promise<void> {
    if (!this.accepting) return Promise.reject(new BrokerUnavailableError());
    this.published.push({ event, deadline });
    return this.failWith === null ? Promise.resolve() : Promise.reject(this.failWith);
  }
}
