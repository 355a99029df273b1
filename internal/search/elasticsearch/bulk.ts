import type { Client, estypes } from '@elastic/elasticsearch';
import type { IndexedMessage } from '../../domain/ports.js';
import {
  chatKey,
  documentId,
  documentVersion,
  toDocument,
  type MessageDocument,
} from './document.js';
import { SearchIndexingError, toSearchError, type BulkFailure } from './errors.js';

export interface BulkTarget {
  /** An alias, or a physical index while a reindex loads it before the alias switch. */
  readonly index: string;
  /** Refuse to write unless `index` is an alias, so a missing alias never auto-creates an index. */
  readonly requireAlias: boolean;
  readonly refresh?: estypes.Refresh;
}

export interface BulkResult {
  readonly indexed: number;
  /** Documents the index already held in a newer version (a late retry of an older write). */
  readonly stale: number;
}

function bulkOperations(
  messages: readonly IndexedMessage[],
): (estypes.BulkOperationContainer | MessageDocument)[] {
  return messages.flatMap((message) => [
    {
      index: {
        _id: documentId(message),
        routing: chatKey(message),
        version: documentVersion(message),
        version_type: 'external_gte',
      },
    },
    toDocument(message),
  ]);
}

function deleteOperations(messages: readonly IndexedMessage[]): estypes.BulkOperationContainer[] {
  return messages.map((message) => ({
    delete: {
      _id: documentId(message),
      routing: chatKey(message),
      // The tombstone's updated_at is past every edit's: a late write of an older version is
      // refused (while Elasticsearch keeps the delete's version, index.gc_deletes).
      version: documentVersion(message),
      version_type: 'external_gte',
    },
  }));
}

/**
 * Indexes `messages` in one bulk request (or, with `remove`, deletes their documents). Resolves when every document is stored (or already held
 * in a newer version); throws SearchUnavailableError for transport-level failures and
 * SearchIndexingError when some items were refused.
 */
export async function bulkIndex(
  client: Client,
  target: BulkTarget,
  messages: readonly IndexedMessage[],
  action: 'index' | 'delete' = 'index',
): Promise<BulkResult> {
  if (messages.length === 0) return { indexed: 0, stale: 0 };
  let response: estypes.BulkResponse;
  try {
    response = await client.bulk({
      index: target.index,
      operations: action === 'index' ? bulkOperations(messages) : deleteOperations(messages),
      ...(target.requireAlias ? { require_alias: true } : {}),
      ...(target.refresh === undefined ? {} : { refresh: target.refresh }),
    });
  } catch (error) {
    throw toSearchError(error);
  }
  const failures: BulkFailure[] = [];
  let stale = 0;
  for (const [position, item] of response.items.entries()) {
    const result = item.index ?? item.delete;
    const id = result?._id ?? documentId(messages[position] as IndexedMessage);
    if (result === undefined) {
      failures.push({ id, status: 500, type: 'missing_item', reason: 'no result for this item' });
      continue;
    }
    if (result.error === undefined) continue;
    // Deleting what the index never held (or no longer holds) is done already.
    if (action === 'delete' && result.status === 404) continue;
    if (result.status === 409 && result.error.type === 'version_conflict_engine_exception') {
      stale += 1;
      continue;
    }
    failures.push({
      id,
      status: result.status,
      type: result.error.type,
      reason: result.error.reason ?? '',
    });
  }
  if (failures.length > 0) throw new SearchIndexingError(failures, messages.length);
  return { indexed: messages.length - stale, stale };
}
