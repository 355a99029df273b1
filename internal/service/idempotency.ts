import { createHash } from 'node:crypto';

/** Same key, same body: compared on the validated input, so JSON formatting does not matter. */
export function fingerprint(input: unknown): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url');
}
