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

export function encodeWriteEvent(event: WriteEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
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
    return e as unknown as WriteEvent;
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
