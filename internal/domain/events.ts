import type { WriteEvent } from './model.js';
import { CHAT_NAME_MAX, MESSAGE_CONTENT_MAX, NUMBER_MAX, isWellFormedToken } from './validation.js';

/** A queued message that can never be persisted, whatever the number of retries. */
export class PoisonMessageError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PoisonMessageError';
  }
}

const EVENT_ID = /^[0-9a-f-]{36}$/;
/** A DATETIME(3) as the registry of write queues writes it (UTC). */
const SQL_DATETIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$/;

export function encodeWriteEvent(event: WriteEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

/**
 * The content type of an envelope: several encoded events in one queued message, one per
 * line (newline-delimited JSON). A message with any other content type is one event, as every
 * message was before envelopes, so a queue holding both kinds is consumed in order.
 * JSON.stringify never writes a raw newline (it escapes those inside strings), so splitting
 * on newlines is exact, and a line that does not decode is poison on its own: its siblings
 * still decode.
 */
export const ENVELOPE_CONTENT_TYPE = 'application/x-ndjson';
/** The message header carrying an envelope's event count, read before decoding it. */
export const ENVELOPE_EVENTS_HEADER = 'x-events';

const NEWLINE = 0x0a;
const NEWLINE_BUFFER = Buffer.from([NEWLINE]);

/** Joins already encoded events into one envelope body. */
export function encodeEnvelope(encoded: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const [i, content] of encoded.entries()) {
    if (i > 0) parts.push(NEWLINE_BUFFER);
    parts.push(content);
  }
  return Buffer.concat(parts);
}
/** One event of an envelope: its own bytes, and the event or why it is poison. */
export type EnvelopeEntry =
  | { readonly content: Buffer; readonly event: WriteEvent }
  | { readonly content: Buffer; readonly poison: PoisonMessageError };

/** Splits an envelope body into its events, decoding each one on its own. */
export function decodeEnvelope(body: Buffer): EnvelopeEntry[] {
  const entries: EnvelopeEntry[] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(NEWLINE, start);
    if (end === -1) end = body.length;
    const content = body.subarray(start, end);
    start = end + 1;
    if (content.length === 0) {
      entries.push({ content, poison: new PoisonMessageError('empty event in envelope') });
      continue;
    }
    try {
      entries.push({ content, event: decodeWriteEvent(content) });
    } catch (err) {
      if (!(err instanceof PoisonMessageError)) throw err;
      entries.push({ content, poison: err });
    }
  }
  return entries;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= NUMBER_MAX;
}

function isLength(value: unknown, min: number, max: number): value is string {
  if (typeof value !== 'string') return false;
  const length = [...value].length;
  return length >= min && length <= max;
}

/** Decodes and re-validates a queued event: the queue is a trust boundary too. */
export function decodeWriteEvent(body: Buffer): WriteEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new PoisonMessageError('body is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null)
    throw new PoisonMessageError('body is not an object');
  const e = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (e['kind'] === 'numbering.fence') {
    if (typeof e['eventId'] !== 'string' || !EVENT_ID.test(e['eventId'])) problems.push('eventId');
    if (!Number.isSafeInteger(e['epoch']) || (e['epoch'] as number) < 1) problems.push('epoch');
    if (problems.length > 0) throw new PoisonMessageError(`invalid fields: ${problems.join(', ')}`);
    return {
      kind: 'numbering.fence',
      eventId: e['eventId'] as string,
      epoch: e['epoch'] as number,
    };
  }
  if (e['kind'] === 'queue.drained') {
    if (typeof e['eventId'] !== 'string' || !EVENT_ID.test(e['eventId'])) problems.push('eventId');
    if (typeof e['heartbeatAt'] !== 'string' || !SQL_DATETIME.test(e['heartbeatAt'])) {
      problems.push('heartbeatAt');
    }
    if (problems.length > 0) throw new PoisonMessageError(`invalid fields: ${problems.join(', ')}`);
    // The queue is never taken from the body: the consumer sets it from the delivery.
    return {
      kind: 'queue.drained',
      eventId: e['eventId'] as string,
      heartbeatAt: e['heartbeatAt'] as string,
    };
  }
  if (typeof e['eventId'] !== 'string' || !EVENT_ID.test(e['eventId'])) problems.push('eventId');
  if (typeof e['applicationToken'] !== 'string' || !isWellFormedToken(e['applicationToken'])) {
    problems.push('applicationToken');
  }
  if (!isNumber(e['chatNumber'])) problems.push('chatNumber');
  if (typeof e['createdAt'] !== 'string' || Number.isNaN(Date.parse(e['createdAt']))) {
    problems.push('createdAt');
  }
  if (e['kind'] === 'chat.created') {
    if (e['chatName'] !== null && !isLength(e['chatName'], 1, CHAT_NAME_MAX)) {
      problems.push('chatName');
    }
  } else if (e['kind'] === 'message.created') {
    if (!isNumber(e['messageNumber'])) problems.push('messageNumber');
    if (!isLength(e['content'], 1, MESSAGE_CONTENT_MAX)) problems.push('content');
  } else {
    problems.push('kind');
  }
  if (problems.length > 0) throw new PoisonMessageError(`invalid fields: ${problems.join(', ')}`);
  return e as unknown as WriteEvent;
}
