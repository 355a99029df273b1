/**
 * Trigrams for the built-in MySQL search: every run of three consecutive code points.
 *
 * Exactness rests on how the database compares, not on this module: the index column has the
 * messages' collation (utf8mb4_unicode_520_ci), and LIKE under it matches one character against
 * one character of equal weight. If a query term occurs in a message, every three consecutive
 * characters of the term match three consecutive characters of the message one by one, so the
 * two trigrams have the same weights and compare equal in the index. That is why every trigram
 * is kept (spaces, punctuation, emoji included: a no-break space matches a space under LIKE), and
 * why folding here is only an optimisation that must never merge two trigrams the collation
 * tells apart.
 */

export const TRIGRAM_LENGTH = 3;

/**
 * Where folding is known to agree with the collation: Latin, Greek and Cyrillic below U+0500,
 * whose case pairs are all in Unicode 5.2, the collation's table. Letters added later (U+037F,
 * Cherokee, Georgian Mtavruli, ...) get implicit weights by code point there, so their case
 * pairs are not equal and must stay apart.
 */
const FOLDABLE_BELOW = 0x0500;
const ADDED_AFTER_5_2 = new Set([0x037f]);

/**
 * The lower-case form of one code point when the collation equates the two, else the code point
 * unchanged. Case differences are equal under the collation, so folding only spares the
 * database rows it would merge anyway; an integration test checks every code point this
 * changes against the collation.
 */
export function foldCodePoint(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  if (cp >= FOLDABLE_BELOW || ADDED_AFTER_5_2.has(cp)) return c;
  const lower = c.toLowerCase();
  return [...lower].length === 1 ? lower : c;
}

/** The distinct folded trigrams of `text`, in order of first occurrence; none below 3 code points. */
export function trigramsOf(text: string): string[] {
  // ASCII inline: the indexer folds some forty characters per message, most of them ASCII.
  const chars: string[] = [];
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (code >= 0x80) chars.push(foldCodePoint(c));
    else chars.push(code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : c);
  }
  const seen = new Set<string>();
  for (let i = 0; i + TRIGRAM_LENGTH <= chars.length; i += 1) {
    seen.add(chars[i]! + chars[i + 1]! + chars[i + 2]!);
  }
  return [...seen];
}

/**
 * The trigrams worth looking up for a query: those of every term of 3 code points or more,
 * de-duplicated, at most `max` of them spread evenly over the list (the rest only verify, and
 * the exact LIKE verifies anyway). Empty when no term is long enough: the caller scans.
 */
export function queryTrigrams(terms: readonly string[], max = 12): string[] {
  const all = [...new Set(terms.flatMap((term) => trigramsOf(term)))];
  if (all.length <= max) return all;
  const step = all.length / max;
  return Array.from({ length: max }, (_, i) => all[Math.floor(i * step)]!);
}
