import { createHash } from 'node:crypto';
import { BadRequestError } from '../domain/errors.js';

const KEY = /^[\x21-\x7e]{1,255}$/;

/** Keys that replay a new application's secret token must be unguessable themselves. */
export const APPLICATION_KEY_MIN_LENGTH = 32;

/**
 * Idempotency-Key: 1–255 visible ASCII characters, or absent. Chat and message keys live
 * under the application's secret token; application keys are global, so they must be long
 * enough to be unguessable (a random UUID), or anyone could replay someone else's token.
 */
export function parseIdempotencyKey(
  raw: string | undefined,
  { minLength = 1 }: { minLength?: number } = {},
): string | null {
  if (raw === undefined) return null;
  if (!KEY.test(raw)) {
    throw new BadRequestError(
      'Idempotency-Key must be 1 to 255 visible ASCII characters.',
      'invalid_idempotency_key',
    );
  }
  if (raw.length < minLength) {
    throw new BadRequestError(
      `Idempotency-Key must be at least ${minLength} characters here (use a random UUID): the answer carries a secret token.`,
      'invalid_idempotency_key',
    );
  }
  return raw;
}

/** Same key, same body: compared on the validated input, so JSON formatting does not matter. */
export function fingerprint(input: unknown): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url');
}
