import type { estypes } from '@elastic/elasticsearch';

/** Deepest hit (offset + limit) a search may page to. */
export const MAX_RESULT_WINDOW = 10_000;

export interface IndexDefinition {
  readonly settings: estypes.IndicesIndexSettings;
  readonly mappings: estypes.MappingTypeMapping;
}

/**
 * Settings and mappings of a physical messages index.
 *
 * Infix matching uses the `wildcard` field type on `content_infix`, not an n-gram analyser:
 * - A `wildcard` field indexes 3-grams only to pick candidates, then confirms every candidate
 *   against the whole stored value, so `*term*` is an exact substring test for any length,
 *   1–2 characters included, and never a false positive.
 * - n-grams with min_gram 1 must bound max_gram (and raise index.max_ngram_diff): terms longer
 *   than max_gram can then only be approximated by requiring all their grams, which also matches
 *   text where those grams are not contiguous; and the index grows with every gram length.
 *   n-gram tokenizers also split on word boundaries that are wrong for CJK or emoji.
 * - Case-insensitivity is not left to `case_insensitive: true`: several Elasticsearch 9 releases
 *   fold ASCII letters only in that flag. The adapter stores `foldForMatch(content)` instead and
 *   folds the query the same way, so "CAFÉ" finds "café" on every server version.
 *
 * `content` is a `text` field (standard analyser) used only for ranking: whole-word matches
 * score above pure infix matches. `_routing` is required so no write can skip the chat routing.
 */
export function indexDefinition(): IndexDefinition {
  return {
    settings: {
      // Stated so the adapter's page guard and the index agree; shard and replica counts are
      // left to the cluster's defaults and templates.
      index: { max_result_window: MAX_RESULT_WINDOW },
    },
    mappings: {
      dynamic: 'strict',
      _routing: { required: true },
      properties: {
        application_token: { type: 'keyword' },
        chat_number: { type: 'integer' },
        number: { type: 'integer' },
        content: { type: 'text', analyzer: 'standard' },
        content_infix: { type: 'wildcard' },
        created_at: { type: 'date' },
        updated_at: { type: 'date' },
      },
    },
  };
}
