import { expect } from 'chai';
import {
  parseApplicationInput,
  parseChatInput,
  parseListQuery,
  parseMessageInput,
  parseNumberCursor,
  parseNumberParam,
  isWellFormedToken,
} from '../../../internal/domain/validation.js';
import { AppError, ValidationError } from '../../../internal/domain/errors.js';

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.status;
    throw err;
  }
  return undefined;
}

describe('domain/validation', () => {
  describe('parseApplicationInput', () => {
    it('accepts a name of 1 to 255 code points and returns it exactly', () => {
      const name = ' \u0000"quoted" مرحبا 🎉 ';
      expect(parseApplicationInput({ application_name: name })).to.deep.equal({ name });
      expect(parseApplicationInput({ application_name: '🎉'.repeat(255) }).name).to.have.lengthOf(
        510,
      );
    });

    it('rejects missing, non-string, empty and too long names with 422 naming the field', () => {
      for (const body of [
        {},
        { application_name: 5 },
        { application_name: '' },
        { application_name: 'x'.repeat(256) },
        { application_name: null },
      ]) {
        let caught: unknown;
        try {
          parseApplicationInput(body);
        } catch (err) {
          caught = err;
        }
        expect(caught).to.be.instanceOf(ValidationError);
        expect((caught as ValidationError).status).to.equal(422);
        expect((caught as ValidationError).issues[0]?.field).to.equal('application_name');
      }
    });

    it('rejects bodies that are not JSON objects', () => {
      for (const body of [null, [], 'name', 3, undefined]) {
        expect(statusOf(() => parseApplicationInput(body))).to.equal(422);
      }
    });
  });

  describe('parseChatInput', () => {
    it('makes chat_name optional on create and accepts null', () => {
      expect(parseChatInput(undefined, { required: false })).to.deep.equal({ name: null });
      expect(parseChatInput({}, { required: false })).to.deep.equal({ name: null });
      expect(parseChatInput({ chat_name: null }, { required: false })).to.deep.equal({
        name: null,
      });
      expect(parseChatInput({ chat_name: 'general' }, { required: false })).to.deep.equal({
        name: 'general',
      });
    });

    it('requires the field on update and rejects wrong types', () => {
      expect(statusOf(() => parseChatInput({}, { required: true }))).to.equal(422);
      expect(statusOf(() => parseChatInput({ chat_name: 1 }, { required: false }))).to.equal(422);
      expect(statusOf(() => parseChatInput({ chat_name: '' }, { required: false }))).to.equal(422);
      expect(parseChatInput({ chat_name: null }, { required: true })).to.deep.equal({ name: null });
    });
  });

  describe('parseMessageInput', () => {
    it('accepts 1 to 10000 characters', () => {
      expect(parseMessageInput({ message_content: 'x'.repeat(10_000) }).content).to.have.lengthOf(
        10_000,
      );
      expect(statusOf(() => parseMessageInput({ message_content: 'x'.repeat(10_001) }))).to.equal(
        422,
      );
      expect(statusOf(() => parseMessageInput({ message_content: '' }))).to.equal(422);
      expect(statusOf(() => parseMessageInput({ content: 'x' }))).to.equal(422);
    });
  });

  describe('parseNumberParam', () => {
    it('accepts canonical positive integers within INT UNSIGNED', () => {
      expect(parseNumberParam('1', 'chat')).to.equal(1);
      expect(parseNumberParam('4294967295', 'chat')).to.equal(4_294_967_295);
    });

    it('answers 400 for anything else', () => {
      for (const raw of [
        '0',
        '-1',
        '01',
        '1.5',
        '1e3',
        '+1',
        'abc',
        '',
        ' 1',
        '4294967296',
        '99999999999999999999',
      ]) {
        expect(
          statusOf(() => parseNumberParam(raw, 'chat')),
          raw,
        ).to.equal(400);
      }
    });
  });

  describe('list queries', () => {
    it('defaults and bounds the limit', () => {
      const bounds = { defaultLimit: 50, maxLimit: 100 };
      expect(parseListQuery({}, bounds)).to.deep.equal({ limit: 50, after: null });
      expect(parseListQuery({ limit: '100', after: '7' }, bounds)).to.deep.equal({
        limit: 100,
        after: '7',
      });
      for (const limit of ['0', '101', 'x', '-1', '1.5']) {
        expect(
          statusOf(() => parseListQuery({ limit }, bounds)),
          limit,
        ).to.equal(400);
      }
      expect(statusOf(() => parseListQuery({ limit: ['1', '2'] }, bounds))).to.equal(400);
    });

    it('parses numeric cursors', () => {
      expect(parseNumberCursor(null)).to.equal(null);
      expect(parseNumberCursor('0')).to.equal(0);
      expect(parseNumberCursor('42')).to.equal(42);
      expect(statusOf(() => parseNumberCursor('abc'))).to.equal(400);
    });
  });

  it('recognises well-formed UUID v4 tokens only', () => {
    expect(isWellFormedToken('2a7b3bbd-45e2-4eff-b7cd-0123456789ab')).to.equal(true);
    expect(isWellFormedToken('2A7B3BBD-45E2-4EFF-B7CD-0123456789AB')).to.equal(false);
    expect(isWellFormedToken('2a7b3bbd-45e2-1eff-b7cd-0123456789ab')).to.equal(false);
    expect(isWellFormedToken('../../etc/passwd')).to.equal(false);
  });
});

describe('domain/validation: text that cannot be stored exactly (defect 2)', () => {
  it('refuses a lone surrogate with 422 naming the field, and keeps surrogate pairs', async () => {
    const { parseApplicationInput, parseChatInput, parseMessageInput } =
      await import('../../../internal/domain/validation.js');
    const { ValidationError } = await import('../../../internal/domain/errors.js');
    const cases: [() => unknown, string][] = [
      [() => parseApplicationInput({ application_name: 'a\ud800b' }), 'application_name'],
      [() => parseChatInput({ chat_name: '\udc00' }, { required: false }), 'chat_name'],
      [() => parseMessageInput({ message_content: 'x\ud83d' }), 'message_content'],
    ];
    for (const [parse, field] of cases) {
      let caught: unknown;
      try {
        parse();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ValidationError);
      expect((caught as InstanceType<typeof ValidationError>).status).to.equal(422);
      expect((caught as InstanceType<typeof ValidationError>).issues[0]?.field).to.equal(field);
    }
    expect(parseMessageInput({ message_content: 'a\u{1F600}b' }).content).to.equal('a\u{1F600}b');
  });
});
