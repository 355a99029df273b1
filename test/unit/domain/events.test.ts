import { expect } from 'chai';
import {
  PoisonMessageError,
  decodeEnvelope,
  decodeWriteEvent,
  encodeEnvelope,
  encodeWriteEvent,
} from '../../../internal/domain/events.js';
import type { WriteEvent } from '../../../internal/domain/model.js';

const message: WriteEvent = {
  kind: 'message.created',
  eventId: '0b5f4a4e-1c1e-4c1e-9c1e-1c1e1c1e1c1e',
  applicationToken: '2a7b3bbd-45e2-4eff-b7cd-0123456789ab',
  chatNumber: 3,
  messageNumber: 9,
  content: 'héllo \u0000 "world" 🎉',
  createdAt: '2026-01-01T00:00:00.123Z',
};

describe('domain/events', () => {
  it('round-trips an event exactly', () => {
    expect(decodeWriteEvent(encodeWriteEvent(message))).to.deep.equal(message);
    const chat: WriteEvent = {
      ...message,
      kind: 'chat.created',
      chatName: null,
    } as unknown as WriteEvent;
    expect(decodeWriteEvent(encodeWriteEvent(chat)).kind).to.equal('chat.created');
  });

  it('refuses undecodable or invalid bodies as poison, naming what is wrong', () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('{nope'), /not valid JSON/],
      [Buffer.from('42'), /not an object/],
      [Buffer.from(JSON.stringify({ ...message, kind: 'chat.deleted' })), /kind/],
      [Buffer.from(JSON.stringify({ ...message, messageNumber: 0 })), /messageNumber/],
      [Buffer.from(JSON.stringify({ ...message, content: '' })), /content/],
      [Buffer.from(JSON.stringify({ ...message, applicationToken: 'x' })), /applicationToken/],
      [Buffer.from(JSON.stringify({ ...message, createdAt: 'yesterday' })), /createdAt/],
    ];
    for (const [body, reason] of cases) {
      expect(() => decodeWriteEvent(body)).to.throw(PoisonMessageError, reason);
    }
  });

  it('round-trips a numbering fence and refuses one without a valid epoch', () => {
    const fence: WriteEvent = {
      kind: 'numbering.fence',
      eventId: '0b5f4a4e-1c1e-4c1e-9c1e-1c1e1c1e1c1e',
      epoch: 7,
    };
    expect(decodeWriteEvent(encodeWriteEvent(fence))).to.deep.equal(fence);
    for (const epoch of [0, -1, 1.5, '7', null]) {
      const body = Buffer.from(JSON.stringify({ ...fence, epoch }));
      expect(() => decodeWriteEvent(body)).to.throw(PoisonMessageError, /epoch/);
    }
  });

  it('never takes the queue of a fence or a drain mark from its body', () => {
    const fence = {
      kind: 'numbering.fence',
      eventId: '0b5f4a4e-1c1e-4c1e-9c1e-1c1e1c1e1c1e',
      epoch: 7,
    };
    expect(
      decodeWriteEvent(Buffer.from(JSON.stringify({ ...fence, queue: 'forged' }))),
    ).to.deep.equal(fence);
    const drained = {
      kind: 'queue.drained',
      eventId: '0b5f4a4e-1c1e-4c1e-9c1e-1c1e1c1e1c1e',
      heartbeatAt: '2026-11-30 16:50:00.123000',
    };
    expect(
      decodeWriteEvent(Buffer.from(JSON.stringify({ ...drained, queue: 'forged' }))),
    ).to.deep.equal(drained);
    for (const heartbeatAt of ['yesterday', 7, null, '2026-11-30T16:50:00Z']) {
      const body = Buffer.from(JSON.stringify({ ...drained, heartbeatAt }));
      expect(() => decodeWriteEvent(body)).to.throw(PoisonMessageError, /heartbeatAt/);
    }
  });

  it('splits an envelope into its events exactly, even with newlines inside their content', () => {
    const multiline: WriteEvent = { ...message, content: 'line 1\nline 2\r\n' };
    const entries = decodeEnvelope(encodeEnvelope([message, multiline].map(encodeWriteEvent)));
    expect(entries.map((e) => ('event' in e ? e.event : e.poison))).to.deep.equal([
      message,
      multiline,
    ]);
    expect(entries[1]?.content.equals(encodeWriteEvent(multiline))).to.equal(true);
  });

  it('makes an undecodable event of an envelope poison alone, keeping its bytes', () => {
    const body = encodeEnvelope([
      encodeWriteEvent(message),
      Buffer.from('{nope'),
      Buffer.from(''),
      encodeWriteEvent(message),
    ]);
    const entries = decodeEnvelope(body);
    expect(entries.map((e) => ('event' in e ? 'event' : e.poison.reason))).to.deep.equal([
      'event',
      'body is not valid JSON',
      'empty event in envelope',
      'event',
    ]);
    expect(entries[1]?.content.toString()).to.equal('{nope');
  });
});
