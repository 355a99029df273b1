import { createHash } from 'node:crypto';
import type { IndexedMessage, SearchScope } from '../../domain/ports.js';
import { foldForMatch } from '../../domain/search-query.js';

/** A message as stored in the index; the mapping in mapping.ts lists exactly these fields. */
export interface MessageDocument {
  readonly application_token: string;
  readonly chat_number: number;
  readonly number: number;
  /** The original text: returned in hits and analysed for relevance. */
  readonly content: string;
  /** `foldForMatch(content)`, the value the infix filter runs against. */
  readonly content_infix: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/**
 * Routing key of a chat: every document of a chat lives on one shard, so a search reads one
 * shard. Hashed so that the application token (a secret) is not readable in ids or routing.
 */
export function chatKey(scope: SearchScope): string {
  return createHash('sha256')
    .update(JSON.stringify([scope.applicationToken, scope.chatNumber]))
    .digest('hex')
    .slice(0, 32);
}

/** Deterministic id: indexing the same message twice overwrites one document. */
export function documentId(message: IndexedMessage): string {
  return `${chatKey(message)}:${message.number}`;
}

/**
 * Writes carry this as an `external_gte` version, so a late retry of an older write can never
 * overwrite a newer edit, while re-indexing the same state stays idempotent.
 */
export function documentVersion(message: IndexedMessage): number {
  return message.updatedAt.getTime();
}

export function toDocument(message: IndexedMessage): MessageDocument {
  return {
    application_token: message.applicationToken,
    chat_number: message.chatNumber,
    number: message.number,
    content: message.content,
    content_infix: foldForMatch(message.content),
    created_at: message.createdAt.toISOString(),
    updated_at: message.updatedAt.toISOString(),
  };
}
