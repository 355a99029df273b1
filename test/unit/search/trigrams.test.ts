import { expect } from 'chai';
import { foldCodePoint, queryTrigrams, trigramsOf } from '../../../internal/search/trigrams.js';

describe('search/trigrams', () => {
  it('takes every run of three code points, once each, spaces and punctuation included', () => {
    expect(trigramsOf('abcab')).to.deep.equal(['abc', 'bca', 'cab']);
    expect(trigramsOf('a b!')).to.deep.equal(['a b', ' b!']);
    expect(trigramsOf('aaaa')).to.deep.equal(['aaa']);
  });

  it('has none below three code points, counting an emoji as one', () => {
    expect(trigramsOf('')).to.deep.equal([]);
    expect(trigramsOf('ab')).to.deep.equal([]);
    expect(trigramsOf('🎉😀')).to.deep.equal([]);
    expect(trigramsOf('a🎉b')).to.deep.equal(['a🎉b']);
    expect(trigramsOf('喜欢吃苹果')).to.deep.equal(['喜欢吃', '欢吃苹', '吃苹果']);
  });

  it('folds case where the collation does, so case variants share rows', () => {
    expect(trigramsOf('HeLLo')).to.deep.equal(['hel', 'ell', 'llo']);
    expect(trigramsOf('ÉCOLE')).to.deep.equal(['éco', 'col', 'ole']);
    expect(trigramsOf('ΟΔΟΣ')).to.deep.equal(['οδο', 'δοσ']);
    expect(trigramsOf('ПРИВЕТ')).to.deep.equal(['при', 'рив', 'иве', 'вет']);
  });

  it('leaves alone what it cannot fold to one equal code point', () => {
    // "İ" lower-cases to two code points; U+037F and Cherokee came after the collation's table.
    expect(foldCodePoint('İ')).to.equal('İ');
    expect(foldCodePoint('\u037f')).to.equal('\u037f');
    expect(foldCodePoint('\u13a0')).to.equal('\u13a0');
    expect(foldCodePoint('ß')).to.equal('ß');
    expect(foldCodePoint('K')).to.equal('k');
    // Accents are the collation's business: folding never strips them.
    expect(foldCodePoint('é')).to.equal('é');
  });

  it('looks up the trigrams of terms of three code points or more, at most the cap, spread out', () => {
    expect(queryTrigrams(['ab', 'xyz'])).to.deep.equal(['xyz']);
    expect(queryTrigrams(['ab', 'z'])).to.deep.equal([]);
    expect(queryTrigrams(['abcd', 'ABCD'])).to.deep.equal(['abc', 'bcd']);
    const long = queryTrigrams(['abcdefghijklmnopqrstuvwxyz'], 4);
    expect(long).to.deep.equal(['abc', 'ghi', 'mno', 'stu']);
  });
});
