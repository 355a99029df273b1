import { createHash } from 'node:crypto';
import type { PendingRef } from '../domain/ports.js';

/**
 * Redis key layout. Every key an atomic script touches shares one hash tag, so each script
 * stays within one slot and the layout is ready for Redis Cluster:
 * - `{token}`: an application's numbering hash (see numbers.ts for its fields).
 * - `{token}:idem:<scope>:<digest>`: idempotency record of a create under that application.
 * - `{dirty}:apps|chats[:processing]`: parents whose counters the flusher must recount.
 * - `numbering:epoch`: the Redis process (run id) and numbering epoch the state is trusted for.
 * - `{token}:events:<chat>`: the chat's event log (a stream), see live.ts.
 * - `{token}:pending:c:<chat>`, `{token}:pending:m:<chat>:<n>`: a create answered 201 and not
 *   persisted yet (read-your-writes), see live.ts.
 * - `{token}:mysql:position`: the primary position the application's writes reached, which a
 *   read on a MySQL replica waits for (causal reads), see positions.ts.
 */
export class KeySpace {
  constructor(private readonly prefix: string) {}

  application(token: string): string {
    return `${this.prefix}{${token}}`;
  }

  idempotency(token: string | null, scope: string, key: string): string {
    const digest = createHash('sha256').update(key).digest('base64url');
    return token === null
      ? `${this.prefix}idem:${scope}:${digest}`
      : `${this.prefix}{${token}}:idem:${scope}:${digest}`;
  }

  events(token: string, chat: number): string {
    return `${this.prefix}{${token}}:events:${chat}`;
  }

  pending(token: string, ref: PendingRef): string {
    return ref.kind === 'chat'
      ? `${this.prefix}{${token}}:pending:c:${ref.chat}`
      : `${this.prefix}{${token}}:pending:m:${ref.chat}:${ref.message}`;
  }

  position(token: string): string {
    return `${this.prefix}{${token}}:mysql:position`;
  }

  epoch(): string {
    return `${this.prefix}numbering:epoch`;
  }

  dirty(kind: 'apps' | 'chats'): { pending: string; processing: string } {
    return {
      pending: `${this.prefix}{dirty}:${kind}`,
      processing: `${this.prefix}{dirty}:${kind}:processing`,
    };
  }
}
