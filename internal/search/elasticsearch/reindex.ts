import type { Client } from '@elastic/elasticsearch';
import type { IndexedMessage, SearchScope } from '../../domain/ports.js';
import { bulkIndex } from './bulk.js';
import { statusOf, toSearchError, withSearchErrors } from './errors.js';
import { indexDefinition } from './mapping.js';

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
  | { readonly kind: 'deleted-index'; readonly index: string };

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
  readonly indexed: number;
}

/**
 * Rebuilds one chat in place by indexing every message of it again. Nothing is deleted first:
 * messages are never deleted, an equal version overwrites (`external_gte`), and a delete
 * would leave tombstones with higher versions that make the reload look stale for
 * `index.gc_deletes`. Other chats are untouched; searches keep answering meanwhile.
 */
export async function reindexChat(options: ReindexChatOptions): Promise<ReindexChatResult> {
  const { client, alias, scope } = options;
  const report = options.onProgress ?? (() => undefined);
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
  return { indexed };
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
