import { expect } from 'chai';
import type { Outcome } from '../../faults/support/load.js';
import { judge, summaryLine, type Row } from '../../faults/support/verify.js';

/** The fault suite's verdict: a harness bug there would look like (or hide) a product bug. */
describe('fault suite verdict', () => {
  const message = (
    content: string,
    chat: number,
    status: number,
    extra: Partial<Outcome> = {},
  ): Outcome => ({
    kind: 'message',
    content,
    chat,
    status,
    number: undefined,
    code: undefined,
    sentAt: 0,
    doneAt: 1,
    ...extra,
  });
  const row = (content: string, scope: number, number: number): Row => ({
    kind: 'message',
    scope,
    number,
    content,
  });

  it('counts a 201 persisted once under its number as persisted', () => {
    const v = judge([message('a', 1, 201, { number: 1 })], [row('a', 1, 1)]);
    expect([v.acknowledged, v.persisted, v.lost, v.duplicated]).to.deep.equal([1, 1, 0, 0]);
  });

  it('counts a 201 missing, or persisted under another number or chat, as lost', () => {
    const v = judge(
      [
        message('a', 1, 201, { number: 1 }),
        message('b', 1, 201, { number: 2 }),
        message('c', 1, 201, { number: 3 }),
      ],
      [row('b', 1, 5), row('c', 2, 3)],
    );
    expect([v.acknowledged, v.persisted, v.lost]).to.deep.equal([3, 0, 3]);
  });

  it('counts a number given by two 201s and a content persisted twice as duplicated', () => {
    const v = judge(
      [message('a', 1, 201, { number: 1 }), message('b', 1, 201, { number: 1 })],
      [row('a', 1, 1), row('b', 1, 2), row('b', 1, 3)],
    );
    expect(v.reissued).to.equal(1);
    expect(v.duplicated).to.equal(2);
    expect(v.lost).to.equal(1);
  });

  it('allows outcome_unknown to be persisted but no other 503', () => {
    const v = judge(
      [
        message('a', 1, 503, { code: 'outcome_unknown' }),
        message('b', 1, 503, { code: 'broker_unavailable' }),
        message('c', 1, 503, { code: 'numbering_unavailable' }),
      ],
      [row('a', 1, 1), row('b', 1, 2)],
    );
    expect(v.dishonest).to.equal(1);
    expect(v.unavailable).to.deep.equal({
      outcome_unknown: 1,
      broker_unavailable: 1,
      numbering_unavailable: 1,
    });
    expect(v.unknownCodes).to.equal(0);
  });

  it('reports 503s without a known code and every other answer', () => {
    const v = judge(
      [
        message('a', 1, 503, { code: 'http_503' }),
        message('b', 1, 404, { code: 'chat_not_found' }),
        message('c', 1, 0, { code: 'no_response_timeout' }),
      ],
      [],
    );
    expect(v.unknownCodes).to.equal(1);
    expect(v.unexpected).to.deep.equal({ '404:chat_not_found': 1, no_response_timeout: 1 });
  });

  it('prints the one-line summary the issue asks for', () => {
    const v = judge([message('a', 1, 201, { number: 1 })], [row('a', 1, 1)]);
    expect(summaryLine(6, 'mysql-restart', v, 29.74)).to.match(
      /^fault 6 mysql-restart: acknowledged=1 persisted=1 lost=0 duplicated=0 503s=\{\} seconds=29\.7 /,
    );
  });
});
