import { expect } from 'chai';
import { StreamHub, TooManyStreamsError, type StreamSink } from '../../../internal/live/hub.js';
import { FakeLiveLog } from '../../support/fakes/live.js';
import { silentLogger } from '../../support/environment.js';
import { until } from '../../support/until.js';

const TOKEN = '2a7b3bbd-45e2-4eff-b7cd-0123456789ab';

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

class Sink implements StreamSink {
  text = '';
  ended = false;
  destroyed = false;
  /** What write() reports as queued and unread. */
  queued = 0;
  write(chunk: string): number {
    this.text += chunk;
    return this.queued;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  frames(): Frame[] {
    return this.text
      .split('\n\n')
      .filter((block) => block !== '')
      .map((block) => {
        const frame: Frame = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) frame.comment = line.slice(1).trim();
          else {
            const at = line.indexOf(': ');
            (frame as Record<string, string>)[line.slice(0, at)] = line.slice(at + 2);
          }
        }
        return frame;
      });
  }
  events(): Frame[] {
    return this.frames().filter((f) => f.event !== undefined);
  }
}

function hub(log: FakeLiveLog, options: Partial<ConstructorParameters<typeof StreamHub>[1]> = {}) {
  const counts = { open: 0, sent: 0, cut: 0 };
  const h = new StreamHub(
    log,
    { heartbeatMs: 60_000, retryMs: 1_500, maxStreams: 10, maxBufferBytes: 1_000, ...options },
    {
      open: (n) => (counts.open = n),
      sent: () => (counts.sent += 1),
      cut: () => (counts.cut += 1),
    },
    silentLogger,
  );
  return { h, counts };
}

const say = (log: FakeLiveLog, chat: number, n: number) =>
  log.append(TOKEN, chat, { type: 'message.created', data: { message_number: n } });

async function open(h: StreamHub, chat: number, lastEventId: string | null = null) {
  const sink = new Sink();
  h.reserve();
  const subscription = await h.subscribe(TOKEN, chat, lastEventId, sink);
  return { sink, subscription };
}

describe('live/StreamHub (event streams on a fake log)', function () {
  this.timeout(5_000);
  let log: FakeLiveLog;
  let hubs: StreamHub[] = [];
  beforeEach(() => {
    log = new FakeLiveLog(5);
    hubs = [];
  });
  afterEach(async () => {
    for (const h of hubs) await h.close();
  });
  const make = (options = {}) => {
    const made = hub(log, options);
    hubs.push(made.h);
    return made;
  };

  it('sends retry once, then every new event of the chat in order, to every subscriber, as id/event/one-line data', async () => {
    const { h } = make();
    const a = await open(h, 1);
    const b = await open(h, 1);
    const other = await open(h, 2);
    for (const n of [1, 2, 3]) await say(log, 1, n);
    await until(() => a.sink.events().length === 3 && b.sink.events().length === 3);
    for (const sink of [a.sink, b.sink]) {
      expect(sink.frames()[0]?.retry).to.equal('1500');
      expect(sink.frames().filter((f) => f.retry !== undefined)).to.have.length(1);
      expect(sink.events().map((f) => JSON.parse(f.data ?? '') as unknown)).to.deep.equal([
        { message_number: 1 },
        { message_number: 2 },
        { message_number: 3 },
      ]);
      expect(sink.events().map((f) => f.event)).to.deep.equal(Array(3).fill('message.created'));
      expect(sink.events().map((f) => f.id)).to.deep.equal(['0-1', '0-2', '0-3']);
    }
    expect(other.sink.events()).to.deep.equal([]);
  });

  it('does not replay what came before a subscription without Last-Event-ID', async () => {
    const { h } = make();
    await say(log, 1, 1);
    const a = await open(h, 1);
    await say(log, 1, 2);
    await until(() => a.sink.events().length === 1);
    expect(a.sink.events()[0]?.id).to.equal('0-2');
  });

  it('resumes after Last-Event-ID with no gap and no duplicate, also with events arriving meanwhile', async () => {
    const { h } = make();
    for (const n of [1, 2, 3]) await say(log, 1, n);
    const live = await open(h, 1);
    const resumed = open(h, 1, '0-1');
    await say(log, 1, 4);
    const { sink } = await resumed;
    await say(log, 1, 5);
    await until(() => sink.events().length >= 4 && live.sink.events().length === 2);
    expect(sink.events().map((f) => f.id)).to.deep.equal(['0-2', '0-3', '0-4', '0-5']);
  });

  it('sends one reset when the events after Last-Event-ID were trimmed, or the id is not one of the log', async () => {
    const { h } = make();
    for (const n of [1, 2, 3, 4, 5, 6, 7]) await say(log, 1, n);
    const trimmed = await open(h, 1, '0-1');
    const bogus = await open(h, 1, 'not-an-id');
    const future = await open(h, 1, '0-99');
    await say(log, 1, 8);
    for (const { sink } of [trimmed, bogus, future]) {
      await until(() => sink.events().length === 2);
      expect(sink.events().map((f) => [f.event, f.id])).to.deep.equal([
        ['reset', '0-7'],
        ['message.created', '0-8'],
      ]);
    }
    // Within what the log keeps, no reset.
    const kept = await open(h, 1, '0-5');
    await until(() => kept.sink.events().length === 3);
    expect(kept.sink.events().map((f) => f.event)).to.not.include('reset');
  });

  it('refuses streams beyond the cap with a 503 until one closes', async () => {
    const { h, counts } = make({ maxStreams: 2 });
    const a = await open(h, 1);
    await open(h, 1);
    expect(counts.open).to.equal(2);
    expect(() => h.reserve()).to.throw(TooManyStreamsError);
    a.subscription.close();
    a.subscription.close();
    expect(counts.open).to.equal(1);
    expect(() => h.reserve()).to.not.throw();
  });

  it('cuts a client whose unread buffer passes the bound, and only that one', async () => {
    const { h, counts } = make({ maxBufferBytes: 100 });
    const slow = await open(h, 1);
    const fast = await open(h, 1);
    slow.sink.queued = 101;
    await say(log, 1, 1);
    await until(() => slow.sink.destroyed && fast.sink.events().length === 1);
    expect(counts.cut).to.equal(1);
    expect(fast.sink.destroyed).to.equal(false);
  });

  it('ends the stream after chat.deleted, and every stream on close()', async () => {
    const { h } = make();
    const deletedChat = await open(h, 1);
    const other = await open(h, 2);
    await log.append(TOKEN, 1, { type: 'chat.deleted', data: { chat_number: 1 } });
    await until(() => deletedChat.sink.ended);
    expect(deletedChat.sink.events().map((f) => f.event)).to.deep.equal(['chat.deleted']);
    expect(other.sink.ended).to.equal(false);
    await h.close();
    expect(other.sink.ended).to.equal(true);
    expect(() => h.reserve()).to.throw(TooManyStreamsError);
  });

  it('writes heartbeat comments', async () => {
    const { h } = make({ heartbeatMs: 5 });
    const a = await open(h, 1);
    await until(() => a.sink.frames().some((f) => f.comment === 'keep-alive'));
  });
});
