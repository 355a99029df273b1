/** Plain records as the repositories return them. Internal ids never leave the server. */
export interface Application {
  readonly id: number;
  readonly token: string;
  readonly name: string;
  readonly chatsCount: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface Chat {
  readonly id: number;
  readonly applicationToken: string;
  readonly number: number;
  readonly name: string | null;
  readonly messagesCount: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface Message {
  readonly applicationToken: string;
  readonly chatNumber: number;
  readonly number: number;
  readonly content: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * A create accepted by the API and queued for the consumer. `eventId` identifies the
 * create itself: a redelivery carries the same id (a no-op), while the same number with
 * another id is a conflict (a number issued twice) and is dead-lettered, never overwritten.
 */
export type WriteEvent = ChatCreated | MessageCreated | NumberingFence | QueueDrained;

/** The events that create a record. */
export type CreateEvent = ChatCreated | MessageCreated;

export interface ChatCreated {
  readonly kind: 'chat.created';
  readonly eventId: string;
  readonly applicationToken: string;
  readonly chatNumber: number;
  readonly chatName: string | null;
  readonly createdAt: string;
}

export interface MessageCreated {
  readonly kind: 'message.created';
  readonly eventId: string;
  readonly applicationToken: string;
  readonly chatNumber: number;
  readonly messageNumber: number;
  readonly content: string;
  readonly createdAt: string;
}

/**
 * Published after Redis lost or rolled back numbering state, once no create numbered before
 * that can still be sent. When a consumer has persisted it, every such create is persisted
 * too, so a chat number above the persisted ones that still has no row was never issued.
 */
export interface NumberingFence {
  readonly kind: 'numbering.fence';
  readonly eventId: string;
  /** The numbering epoch this fence settles. */
  readonly epoch: number;
  /**
   * The write queue the fence was delivered from: set by the consumer from the delivery,
   * never trusted from the body. The epoch is settled once its fence was persisted from every
   * queue a create numbered before it could be in (see internal/domain/partitions.ts).
   */
  readonly queue?: string;
}

/**
 * Published by a consumer into a retired write queue (one no API can send to any more). When
 * a consumer persists it, everything queued before it was delivered, so the queue is drained:
 * fences no longer wait for it and consumers leave it once it is empty.
 */
export interface QueueDrained {
  readonly kind: 'queue.drained';
  readonly eventId: string;
  /** The registry's heartbeat of the queue when it was found retired; a newer one voids it. */
  readonly heartbeatAt: string;
  /** As NumberingFence.queue: the queue it was delivered from, set by the consumer. */
  readonly queue?: string;
}

/** Events that are not creates: they only mark a point in a write queue. */
export type QueueMark = NumberingFence | QueueDrained;

/** A page of a list ordered by number; `next` is the cursor of the following page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | null;
}
