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
export type WriteEvent = ChatCreated | MessageCreated;

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

/** A page of a list ordered by number; `next` is the cursor of the following page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | null;
}
