import type { Client, estypes } from '@elastic/elasticsearch';
import type { IndexedMessage, SearchScope } from '../../domain/ports.js';
import { bulkIndex } from './bulk.js';
import { chatKey } from './document.js';
import { statusOf, toSearchError, withSearchErrors } from './errors.js';
import { indexDefinition } from './mapping.js';
import { scopeFilters } from './query.js';

export type MessageBatches = AsyncIterable<readonly IndexedMessage[]>;

export type ReindexProgress =
  | { readonly kind: 'created'; readonly index: string }
  | {
      readonly kind: 'loaded';
      readonly index: string;
      readonly batch: number;
      readonly total: number;
    }
  | {
      readonly kind: 'switched';
      readonly alias: string;
      readonly from: readonly string[];
      readonly to: string;
    }
  | { readonly kind: 'caught-up'; readonly batch: number; readonly total: number }
  | { readonly kind: 'deleted-index'; readonly index: string }
  | { readonly kind: 'deleted-chat'; readonly documents: number };

export interface ReindexAllOptions {
  readonly client: Client;
  readonly alias: string;
  /** Every message, in batches; read while the new index is loaded. */
  readonly source: MessageBatches;
  /**
   * Messages created or edited at or after `startedAt` (by the database's clock, with a margin
   * for clock skew), indexed through the alias right after the switch. Writes made while `source`
   * was being read went to the old index only; this is what carries them over. Versioned writes
   * make the overlap harmless. Should it fail, the switch stands and the old index is kept:
   * run the reindex again.
   */
  readonly catchUp?: (startedAt: Date) => MessageBatches;
  readonly onProgress?: (progress: ReindexProgress) => void;
  readonly now?: () => Date;
}

export interface ReindexAllResult {
  readonly index: string;
  readonly previous: readonly string[];
  readonly indexed: number;
}

/**
 * Rebuilds the whole index without downtime: loads a fresh `<alias>-v<ms>` index, moves the alias
 * onto it in one atomic call, then drops the indices it replaced. Searches keep reading the old
 * index until the switch. Two concurrent runs cannot both switch: removals must find the alias
 * where this run saw it, so the later switch fails and its new index is deleted.
 */
export async function reindexAll(options: ReindexAllOptions): Promise<ReindexAllResult> {
  const { client, alias } = options;
  const report = options.onProgress ?? (() => undefined);
  const startedAt = (options.now ?? (() => new Date()))();
  const previous = await aliasTargets(client, alias);
  if (previous.length === 0) await assertNotConcreteIndex(client, alias);

  const index = `${alias}-v${startedAt.getTime()}`;
  const definition = indexDefinition();
  await withSearchErrors(() =>
    client.indices.create({
      index,
      mappings: definition.mappings,
      // No refreshes while loading: nothing searches this index before the switch.
      settings: {
        ...definition.settings,
        index: { ...definition.settings.index, refresh_interval: '-1' },
      },
    }),
  );
  report({ kind: 'created', index });

  let indexed = 0;
  try {
    for await (const batch of options.source) {
      await bulkIndex(client, { index, requireAlias: false }, batch);
      indexed += batch.length;
      report({ kind: 'loaded', index, batch: batch.length, total: indexed });
    }
    await withSearchErrors(() =>
      // `null` restores the default, including skipping refreshes on search-idle shards.
      client.indices.putSettings({ index, settings: { 'index.refresh_interval': null } }),
    );
    await withSearchErrors(() => client.indices.refresh({ index }));
    await withSearchErrors(() =>
      client.indices.updateAliases({
        actions: [
          ...previous.map((old) => ({ remove: { index: old, alias, must_exist: true } })),
          { add: { index, alias, is_write_index: true } },
        ],
      }),
    );
  } catch (error) {
    await client.indices.delete({ index }, { ignore: [404] }).catch(() => undefined);
    throw error;
  }
  report({ kind: 'switched', alias, from: previous, to: index });

  if (options.catchUp !== undefined) {
    let caughtUp = 0;
    for await (const batch of options.catchUp(startedAt)) {
      await bulkIndex(client, { index: alias, requireAlias: true }, batch);
      caughtUp += batch.length;
      report({ kind: 'caught-up', batch: batch.length, total: caughtUp });
    }
  }

  for (const old of previous) {
    await withSearchErrors(() => client.indices.delete({ index: old }, { ignore: [404] }));
    report({ kind: 'deleted-index', index: old });
  }
  return { index, previous, indexed };
}

export interface ReindexChatOptions {
  readonly client: Client;
  readonly alias: string;
  readonly scope: SearchScope;
  /** Every message of that chat, in batches. */
  readonly source: MessageBatches;
  readonly onProgress?: (progress: ReindexProgress) => void;
}

export interface ReindexChatResult {
  readonly deleted: number;
  readonly indexed: number;
}

/**
 * Rebuilds one chat in place: deletes its documents, then indexes `source`. The chat's search is
 * incomplete until the load finishes; other chats are untouched. Writes made meanwhile are safe:
 * the delete only sees documents that existed when it started.
 */
export async function reindexChat(options: ReindexChatOptions): Promise<ReindexChatResult> {
  const { client, alias, scope } = options;
  const report = options.onProgress ?? (() => undefined);
  const response = await withSearchErrors(() =>
    client.deleteByQuery({
      index: alias,
      routing: chatKey(scope),
      conflicts: 'proceed',
      refresh: true,
      query: { bool: { filter: scopeFilters(scope) } },
    }),
  );
  assertNoFailures(response);
  const deleted = response.deleted ?? 0;
  report({ kind: 'deleted-chat', documents: deleted });

  let indexed = 0;
  for await (const batch of options.source) {
    const stranger = batch.find(
      (m) => m.applicationToken !== scope.applicationToken || m.chatNumber !== scope.chatNumber,
    );
    if (stranger !== undefined) {
      throw new Error(`reindexChat got message ${stranger.number} of another chat.`);
    }
    await bulkIndex(client, { index: alias, requireAlias: true }, batch);
    indexed += batch.length;
    report({ kind: 'loaded', index: alias, batch: batch.length, total: indexed });
  }
  return { deleted, indexed };
}

/** The physical indices behind `alias`; empty when the alias does not exist yet. */
export async function aliasTargets(client: Client, alias: string): Promise<string[]> {
  try {
    return Object.keys(await client.indices.getAlias({ name: alias })).sort();
  } catch (error) {
    if (statusOf(error) === 404) return [];
    throw toSearchError(error);
  }
}

async function assertNotConcreteIndex(client: Client, alias: string): Promise<void> {
  if (await withSearchErrors(() => client.indices.exists({ index: alias }))) {
    throw new Error(
      `"${alias}" is a concrete index, not an alias: delete it, then run the reindex again.`,
    );
  }
}

function assertNoFailures(response: estypes.DeleteByQueryResponse): void {
  const failure = response.failures?.[0];
  if (failure !== undefined) {
    throw new Error(
      `Deleting documents failed for ${response.failures?.length ?? 0} of them; first: ` +
        `${failure.cause.type}: ${failure.cause.reason ?? ''}`,
    );
  }
}
