import { createHash } from 'node:crypto';
import { BadRequestError } from '../domain/errors.js';

const KEY = /^[\x21-\x7e]{1,255}$/;

/** Idempotency-Key: 1–255 visible ASCII characters, or absent. */
export function parseIdempotencyKey(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (!KEY.test(raw)) {
    throw new BadRequestError(
      'Idempotency-Key must be 1 to 255 visible ASCII characters.',
      'invalid_idempotency_key',
    );
  }
  return raw;
}

/** Same key, same body: compared on the validated input, so JSON formatting does not matter. */
export function fingerprint(input: unknown): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url');
}
