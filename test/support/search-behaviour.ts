/**
 * Behaviour every search backend must show, run against each of them. Every test writes its own
 * messages under fresh random application tokens, so backends may keep data between tests.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type {
  IndexedMessage,
  SearchHit,
  SearchPort,
  SearchScope,
} from '../../internal/domain/ports.js';
import { parseSearchQuery } from '../../internal/domain/search-query.js';

export interface SearchBehaviourSubject {
  readonly search: SearchPort;
  /** Stores messages (and whatever application/chat rows they need) so searches see them. */
  seed(messages: IndexedMessage[]): Promise<void>;
  /** Replaces a stored message's content; `message.updatedAt` is later than before. */
  update(message: IndexedMessage): Promise<void>;
  cleanup?(): Promise<void>;
}

const EPOCH = Date.parse('2024-05-01T12:00:00.000Z');

/** A chat under construction: numbers its messages from 1 in the order given. */
class TestChat {
  readonly messages: IndexedMessage[] = [];

  constructor(readonly scope: SearchScope) {}

  add(...contents: string[]): this {
    for (const content of contents) {
      const number = this.messages.length + 1;
      const at = new Date(EPOCH + number * 1_000);
      this.messages.push({ ...this.scope, number, content, createdAt: at, updatedAt: at });
    }
    return this;
  }
}

export function randomApplicationToken(): string {
  return randomBytes(16).toString('hex');
}

function newChat(token = randomApplicationToken(), chatNumber = 1): TestChat {
  return new TestChat({ applicationToken: token, chatNumber });
}

function numbers(hits: readonly SearchHit[]): number[] {
  return hits.map((hit) => hit.number).sort((a, b) => a - b);
}

function plain(hits: readonly SearchHit[]): { number: number; content: string }[] {
  return hits.map(({ number, content }) => ({ number, content }));
}

export function describeSearchBehaviour(
  label: string,
  factory: () => Promise<SearchBehaviourSubject>,
): void {
  describe(`search behaviour: ${label}`, function () {
    this.timeout(30_000);
    let subject: SearchBehaviourSubject | undefined;

    before(async function () {
      subject = await factory();
    });

    after(async function () {
      await subject?.cleanup?.();
    });

    function backend(): SearchBehaviourSubject {
      if (subject === undefined) throw new Error('the search backend was not created');
      return subject;
    }

    async function seed(...chats: TestChat[]): Promise<void> {
      await backend().seed(chats.flatMap((chat) => chat.messages));
    }

    function find(
      chat: TestChat | SearchScope,
      query: string,
      page = { limit: 100, offset: 0 },
    ): Promise<SearchHit[]> {
      const scope = chat instanceof TestChat ? chat.scope : chat;
      return backend().search.search(scope, parseSearchQuery(query), page);
    }

    async function found(chat: TestChat, query: string): Promise<number[]> {
      return numbers(await find(chat, query));
    }

    it('finds a fragment anywhere inside a word, returning number and exact content', async function () {
      const chat = newChat().add('hello wonderful world', 'wonder years', 'nothing here');
      await seed(chat);
      expect(plain(await find(chat, 'onderf'))).to.deep.equal([
        { number: 1, content: 'hello wonderful world' },
      ]);
      expect(await found(chat, 'orld')).to.deep.equal([1]);
      expect(await found(chat, 'wonder')).to.deep.equal([1, 2]);
      expect(await found(chat, 'wonderfully')).to.deep.equal([]);
    });

    it('ignores case in the query and in the content, beyond ASCII too', async function () {
      const chat = newChat().add('Hello WORLD', 'ÉCOLE normale', 'straße');
      await seed(chat);
      expect(await found(chat, 'hello')).to.deep.equal([1]);
      expect(await found(chat, 'wOrLd')).to.deep.equal([1]);
      expect(await found(chat, 'école')).to.deep.equal([2]);
      expect(await found(chat, 'NORMALE')).to.deep.equal([2]);
      expect(await found(chat, 'STRAßE')).to.deep.equal([3]);
    });

    it('matches plural and singular words literally, without stemming', async function () {
      const chat = newChat().add('cats and dogs', 'a cat sat', 'category theory');
      await seed(chat);
      expect(await found(chat, 'cats')).to.deep.equal([1]);
      expect(await found(chat, 'cat')).to.deep.equal([1, 2, 3]);
      expect(await found(chat, 'dog')).to.deep.equal([1]);
      expect(await found(chat, 'dogs')).to.deep.equal([1]);
    });

    it('requires every word of the query, in any order', async function () {
      const chat = newChat().add('hello wonderful world', 'hello there', 'world peace');
      await seed(chat);
      expect(await found(chat, 'hello world')).to.deep.equal([1]);
      expect(await found(chat, 'world hello')).to.deep.equal([1]);
      expect(await found(chat, '  wor \t hel\n')).to.deep.equal([1]);
      expect(await found(chat, 'hello missing')).to.deep.equal([]);
      expect(await found(chat, 'hello HELLO')).to.deep.equal([1, 2]);
    });

    it('answers queries of one and two characters', async function () {
      const chat = newChat().add('pizza', 'jazz', 'abc', '42 is the answer', 'x');
      await seed(chat);
      expect(await found(chat, 'z')).to.deep.equal([1, 2]);
      expect(await found(chat, 'zz')).to.deep.equal([1, 2]);
      expect(await found(chat, 'a')).to.deep.equal([1, 2, 3, 4]);
      expect(await found(chat, '42')).to.deep.equal([4]);
      expect(await found(chat, 'x')).to.deep.equal([5]);
      expect(await found(chat, 'q')).to.deep.equal([]);
    });

    it('handles accents, Arabic, CJK and emoji', async function () {
      const chat = newChat().add(
        "Un café s'il vous plaît",
        'مرحبا بالعالم',
        '我喜欢吃苹果',
        'party 🎉 time',
        'smile 😀',
        'naïve façade',
      );
      await seed(chat);
      expect(await found(chat, 'café')).to.deep.equal([1]);
      expect(await found(chat, 'CAFÉ')).to.deep.equal([1]);
      expect(await found(chat, 'plaît')).to.deep.equal([1]);
      expect(await found(chat, 'رحب')).to.deep.equal([2]);
      expect(await found(chat, 'بالعالم')).to.deep.equal([2]);
      expect(plain(await find(chat, '喜欢'))).to.deep.equal([
        { number: 3, content: '我喜欢吃苹果' },
      ]);
      expect(await found(chat, '苹')).to.deep.equal([3]);
      expect(await found(chat, '🎉')).to.deep.equal([4]);
      expect(await found(chat, '😀')).to.deep.equal([5]);
      expect(await found(chat, '🎉😀')).to.deep.equal([]);
      expect(await found(chat, 'façade ïve')).to.deep.equal([6]);
    });

    it('never returns messages of another chat or another application', async function () {
      const token = randomApplicationToken();
      const own = newChat(token, 1).add('shared secret alpha');
      const sibling = newChat(token, 2).add('shared secret beta');
      const foreign = newChat(randomApplicationToken(), 1).add('shared secret gamma');
      await seed(own, sibling, foreign);
      expect(plain(await find(own, 'secret'))).to.deep.equal([
        { number: 1, content: 'shared secret alpha' },
      ]);
      expect(plain(await find(sibling, 'secret'))).to.deep.equal([
        { number: 1, content: 'shared secret beta' },
      ]);
      expect(plain(await find(foreign, 'secret'))).to.deep.equal([
        { number: 1, content: 'shared secret gamma' },
      ]);
      expect(await find({ applicationToken: token, chatNumber: 3 }, 'secret')).to.deep.equal([]);
    });

    it('pages through every match exactly once', async function () {
      const chat = newChat();
      for (let i = 1; i <= 25; i++) chat.add(`page item ${i}`);
      chat.add('unrelated', 'also unrelated');
      await seed(chat);
      const pages: SearchHit[][] = [];
      for (const offset of [0, 10, 20, 30]) {
        pages.push(await find(chat, 'page', { limit: 10, offset }));
      }
      expect(pages.map((page) => page.length)).to.deep.equal([10, 10, 5, 0]);
      const all = pages.flat().map((hit) => hit.number);
      expect(new Set(all).size).to.equal(25);
      expect([...all].sort((a, b) => a - b)).to.deep.equal(
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
      expect(await find(chat, 'page', { limit: 1, offset: 24 })).to.have.length(1);
    });

    it('treats query syntax of every kind as literal text and never fails', async function () {
      const contents = [
        '100% sure',
        '1000 apples',
        'a_c value',
        'abc value',
        'say "hi" now',
        'back\\slash',
        'star*power',
        'what? really',
        '(paren) [bracket] {brace}',
        "it's fine",
        'this OR that',
        '{"a":1}',
        "' OR 1=1 --",
        'a+b=c && d || !e ~f ^g :h /i <j> @k #l $m `n ; o , p . q',
        'plain words only',
      ];
      const chat = newChat().add(...contents);
      await seed(chat);
      expect(await found(chat, '100%')).to.deep.equal([1]);
      expect(await found(chat, 'a_c')).to.deep.equal([3]);
      expect(await found(chat, '*')).to.deep.equal([7]);
      expect(await found(chat, '?')).to.deep.equal([8]);
      expect(await found(chat, '\\')).to.deep.equal([6]);
      expect(await found(chat, 'a*c')).to.deep.equal([]);
      expect(await found(chat, "' OR 1=1 --")).to.deep.equal([13]);

      const queries = [
        '%',
        '_',
        '%%',
        '__',
        '*',
        '**',
        '?',
        '"',
        '"hi"',
        '\\',
        '\\*',
        '\\\\',
        '(',
        ')',
        '[',
        ']',
        '{',
        '}',
        "'",
        '`',
        'OR',
        'AND',
        'NOT',
        '{"a":1}',
        '"a":1',
        "' OR 1=1 --",
        '--',
        ';',
        'star*',
        '*power',
        'what?',
        'back\\slash',
        '&&',
        '||',
        '!',
        '~',
        '^',
        ':',
        '/',
        '+',
        '-',
        '=',
        '<',
        '>',
        '@',
        '#',
        '$',
        ',',
        '.',
        'a+b',
        '/i',
        '1=1',
        'x OR 1=1',
      ];
      for (const query of queries) {
        const terms = parseSearchQuery(query);
        const expected = contents
          .map((content, i) => ({ content, number: i + 1 }))
          .filter(({ content }) =>
            terms.every((term) => content.toLowerCase().includes(term.toLowerCase())),
          )
          .map(({ number }) => number);
        expect(await found(chat, query), `query ${JSON.stringify(query)}`).to.deep.equal(expected);
      }
    });

    it('reflects content updates: the new text is found and the old is not', async function () {
      const chat = newChat().add('original banana text', 'unrelated');
      await seed(chat);
      expect(await found(chat, 'banana')).to.deep.equal([1]);
      const original = chat.messages[0]!;
      await backend().update({
        ...original,
        content: 'changed mango text',
        updatedAt: new Date(original.updatedAt.getTime() + 60_000),
      });
      expect(await found(chat, 'banana')).to.deep.equal([]);
      expect(plain(await find(chat, 'mango'))).to.deep.equal([
        { number: 1, content: 'changed mango text' },
      ]);
      expect(await found(chat, 'text')).to.deep.equal([1]);
    });
  });
}
