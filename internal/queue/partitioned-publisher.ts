import type { ChannelModel } from 'amqplib';
import type { WriteEvent } from '../domain/model.js';
import type { PublishDeadline, WritePublisher } from '../domain/ports.js';
import { BrokerUnavailableError } from '../domain/errors.js';
import { queueOfEvent, type PartitionSet } from '../domain/partitions.js';
import { ConfirmPublisher, type PublisherObserver, type PublisherOptions } from './publisher.js';

export interface PartitionedPublisherOptions {
  /** RABBITMQ_QUEUE: its dead-letter queue is every partition's. */
  readonly base: string;
  readonly set: PartitionSet;
  /**
   * Every queue a fence must reach besides the set's own and the base queue: the queues of
   * the registry not drained yet (other sets of a rolling change, retired sets not drained).
   */
  readonly fenceTargets: () => Promise<readonly string[]>;
  /** Whether the set's lease in the registry is current: creates are refused while not. */
  readonly leased: () => boolean;
  readonly observer: PublisherObserver;
  /** Each partition gets an equal share of the unconfirmed bounds. */
  readonly publisher: Partial<PublisherOptions>;
  /** Events written to each queue, for the per-partition counter. */
  readonly onSent?: (queue: string, events: number) => void;
}

/**
 * The API's publisher over a partition set: one ConfirmPublisher (its own confirm channel,
 * envelopes and bounds) per queue of the set, on the process's one connection. A create goes
 * to its chat's partition; a fence goes to every queue a create numbered before it could be
 * in (see NumberingFence), through publishers opened on demand for queues of other sets.
 */
export class PartitionedPublisher implements WritePublisher {
  private readonly own = new Map<string, ConfirmPublisher>();
  /** Publishers of queues outside the set, for fences; dropped with their connection. */
  private readonly others = new Map<string, Promise<ConfirmPublisher>>();
  private connection: ChannelModel | null = null;

  constructor(private readonly options: PartitionedPublisherOptions) {
    const n = options.set.queues.length;
    const share = (value: number | undefined) =>
      value === undefined ? {} : { value: Math.max(1, Math.ceil(value / n)) };
    const count = share(options.publisher.maxUnconfirmed);
    const bytes = share(options.publisher.maxUnconfirmedBytes);
    for (const queue of options.set.queues) {
      this.own.set(
        queue,
        new ConfirmPublisher(
          queue,
          this.observerFor(queue),
          {
            ...options.publisher,
            ...('value' in count ? { maxUnconfirmed: count.value } : {}),
            ...('value' in bytes ? { maxUnconfirmedBytes: bytes.value } : {}),
          },
          options.base,
        ),
      );
    }
  }

  /** Every partition has a channel, and the set's lease is current. */
  get ready(): boolean {
    return this.options.leased() && [...this.own.values()].every((p) => p.ready);
  }

  /**
   * Some partition takes publishes now. A create whose own partition refuses is answered 503
   * broker_unavailable by its publish; the others go on (a queue whose leader is being
   * elected does not stop the rest).
   */
  get accepting(): boolean {
    return this.options.leased() && [...this.own.values()].some((p) => p.accepting);
  }

  get unconfirmed(): number {
    let sum = 0;
    for (const p of this.own.values()) sum += p.unconfirmed;
    return sum;
  }

  /** Wire as the connection's onConnect. */
  readonly attach = async (connection: ChannelModel): Promise<void> => {
    this.others.clear();
    for (const publisher of this.own.values()) await publisher.attach(connection);
    this.connection = connection;
  };

  readonly detach = (): void => {
    this.connection = null;
    this.others.clear();
    for (const publisher of this.own.values()) publisher.detach();
  };

  publish(event: WriteEvent, deadline: PublishDeadline): Promise<void> {
    const queue = queueOfEvent(event, this.options.set);
    if (queue === null) return this.publishEverywhere(event, deadline);
    if (!this.options.leased()) {
      this.options.observer.refused('no_lease');
      return Promise.reject(new BrokerUnavailableError());
    }
    return this.own.get(queue)!.publish(event, deadline);
  }

  /** A mark goes to every queue that may hold a create sent before it. */
  private async publishEverywhere(event: WriteEvent, deadline: PublishDeadline): Promise<void> {
    const targets = new Set<string>([this.options.base, ...this.options.set.queues]);
    for (const queue of await this.options.fenceTargets()) targets.add(queue);
    await Promise.all(
      [...targets].map(async (queue) => (await this.publisherOf(queue)).publish(event, deadline)),
    );
  }

  private publisherOf(queue: string): Promise<ConfirmPublisher> {
    const own = this.own.get(queue);
    if (own !== undefined) return Promise.resolve(own);
    let other = this.others.get(queue);
    if (other === undefined) {
      const connection = this.connection;
      if (connection === null) return Promise.reject(new BrokerUnavailableError());
      const publisher = new ConfirmPublisher(
        queue,
        this.observerFor(queue),
        this.options.publisher,
        this.options.base,
      );
      other = publisher.attach(connection).then(() => publisher);
      other.catch(() => this.others.delete(queue));
      this.others.set(queue, other);
    }
    return other;
  }

  private observerFor(queue: string): PublisherObserver {
    const { observer, onSent } = this.options;
    if (onSent === undefined) return observer;
    return {
      ...observer,
      sent: (events) => {
        observer.sent(events);
        onSent(queue, events);
      },
    };
  }
}
