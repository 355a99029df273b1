/** Pure query-text rules shared by every search backend. */

export const MAX_SEARCH_TERMS = 10;
export const MAX_TERM_LENGTH = 100;

/**
 * Splits raw user text into the terms that must all match. Never throws: text that yields no
 * term returns an empty list, which the caller rejects. Terms are NFC-normalised (so a decomposed
 * "é" typed on one keyboard finds the composed "é" stored by another), lone surrogates are
 * replaced, duplicates that differ only by case are dropped, and count and length are capped
 * (length in code points, so an emoji is never cut in half).
 */
export function parseSearchQuery(raw: string): string[] {
  const terms: string[] = [];
  const seen = new Set<string>();
  for (const word of raw.toWellFormed().normalize('NFC').split(/\s+/u)) {
    if (word === '') continue;
    const term = Array.from(word).slice(0, MAX_TERM_LENGTH).join('');
    const key = foldForMatch(term);
    if (seen.has(key)) continue;
    seen.add(key);
    terms.push(term);
    if (terms.length === MAX_SEARCH_TERMS) break;
  }
  return terms;
}

/**
 * The form in which message content and query terms are compared: NFC, then lower case by the
 * Unicode default mapping (locale-independent, unlike MySQL collations or Turkish rules), with
 * the Greek final sigma folded to σ so "ΟΔΟΣ" and "οδος" agree in any position.
 */
export function foldForMatch(text: string): string {
  return text.toWellFormed().normalize('NFC').toLowerCase().replaceAll('ς', 'σ');
}
