import { expect } from 'chai';
import {
  MAX_SEARCH_TERMS,
  MAX_TERM_LENGTH,
  foldForMatch,
  parseSearchQuery,
} from '../../../internal/domain/search-query.js';

describe('parseSearchQuery', function () {
  it('splits on any Unicode whitespace and drops empty pieces', function () {
    expect(parseSearchQuery('  hello\tworld\n\u00a0wide\u3000space\u2003em  ')).to.deep.equal([
      'hello',
      'world',
      'wide',
      'space',
      'em',
    ]);
  });

  it('returns no terms for empty or blank text', function () {
    expect(parseSearchQuery('')).to.deep.equal([]);
    expect(parseSearchQuery(' \t\n\u3000 ')).to.deep.equal([]);
  });

  it('keeps syntax characters untouched', function () {
    expect(parseSearchQuery(`* ? " \\ ( % _ ' OR {"a":1}`)).to.deep.equal([
      '*',
      '?',
      '"',
      '\\',
      '(',
      '%',
      '_',
      "'",
      'OR',
      '{"a":1}',
    ]);
  });

  it('drops duplicates that differ only by case, keeping the first spelling', function () {
    expect(parseSearchQuery('Cat cat CAT dog Cat')).to.deep.equal(['Cat', 'dog']);
  });

  it(`keeps at most ${MAX_SEARCH_TERMS} terms`, function () {
    const words = Array.from({ length: MAX_SEARCH_TERMS + 5 }, (_, i) => `w${i}`);
    expect(parseSearchQuery(words.join(' '))).to.deep.equal(words.slice(0, MAX_SEARCH_TERMS));
  });

  it(`cuts terms to ${MAX_TERM_LENGTH} code points without splitting an emoji`, function () {
    const long = '🎉'.repeat(MAX_TERM_LENGTH + 1);
    const [term] = parseSearchQuery(`${long} x`);
    expect(Array.from(term!)).to.have.length(MAX_TERM_LENGTH);
    expect(term).to.equal('🎉'.repeat(MAX_TERM_LENGTH));
    expect(parseSearchQuery('a'.repeat(MAX_TERM_LENGTH))[0]).to.have.length(MAX_TERM_LENGTH);
  });

  it('normalises to NFC so decomposed and composed accents agree', function () {
    expect(parseSearchQuery('cafe\u0301')).to.deep.equal(['caf\u00e9']);
  });

  it('replaces lone surrogates instead of passing malformed text on', function () {
    expect(parseSearchQuery('a\ud800b')).to.deep.equal(['a\ufffdb']);
  });
});

describe('foldForMatch', function () {
  it('lower-cases beyond ASCII', function () {
    expect(foldForMatch('ÉCOLE Straße ΟΔΟΣ İ')).to.equal('école straße οδοσ i\u0307');
  });

  it('folds the final sigma so a word-final and a lone Σ agree', function () {
    expect(foldForMatch('οδος')).to.equal(foldForMatch('ΟΔΟΣ'));
    expect(foldForMatch('οδος').includes(foldForMatch('Σ'))).to.equal(true);
  });

  it('composes decomposed characters', function () {
    expect(foldForMatch('E\u0301')).to.equal('\u00e9');
  });

  it('leaves scripts without case and emoji alone', function () {
    expect(foldForMatch('مرحبا 我喜欢 🎉')).to.equal('مرحبا 我喜欢 🎉');
  });
});
