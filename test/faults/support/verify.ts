/**
 * Holds every recorded response against what MySQL ends up holding for the run's application.
 */
import { createConnection } from 'mysql2/promise';
import { UNAVAILABLE_CODES } from '../../../internal/domain/errors.js';
import type { Outcome } from './load.js';

export interface Row {
  readonly kind: 'chat' | 'message';
  /** The chat of a message; 0 for a chat (its scope is the application). */
  readonly scope: number;
  readonly number: number;
  readonly content: string | null;
}

export interface Verdict {
  readonly acknowledged: number;
  readonly persisted: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Of `duplicated`: (scope, number) pairs given in two 201s. */
  readonly reissued: number;
  readonly unavailable: Record<string, number>;
  /** 503s whose code promises nothing was persisted, and yet it was. */
  readonly dishonest: number;
  /** 503s with a code outside UnavailableCode. */
  readonly unknownCodes: number;
  /** Anything but 201 and 503: other statuses, and no response at all. */
  readonly unexpected: Record<string, number>;
  /** A few examples of each problem, for the failure message. */
  readonly examples: string[];
}

/** Every chat and message persisted under the application, with its content (a chat's name). */
export async function persistedRows(port: number, database: string, token: string) {
  const connection = await createConnection({
    host: '127.0.0.1',
    port,
    user: 'root',
    database,
    supportBigNumbers: true,
  });
  try {
    const [chats] = await connection.query(
      `SELECT c.number, c.name FROM chats c JOIN applications a ON a.id = c.application_id
        WHERE a.token = ?`,
      [token],
    );
    const [messages] = await connection.query(
      `SELECT c.number AS chat, m.number, m.content FROM messages m
         JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id
        WHERE a.token = ?`,
      [token],
    );
    return [
      ...(chats as { number: number; name: string | null }[]).map((r): Row => ({
        kind: 'chat',
        scope: 0,
        number: Number(r.number),
        content: r.name,
      })),
      ...(messages as { chat: number; number: number; content: string }[]).map((r): Row => ({
        kind: 'message',
        scope: Number(r.chat),
        number: Number(r.number),
        content: r.content,
      })),
    ];
  } finally {
    await connection.end();
  }
}

const key = (kind: string, scope: number | undefined, number: number | undefined) =>
  `${kind}:${scope ?? 0}:${number}`;

function bump(counts: Record<string, number>, name: string): void {
  counts[name] = (counts[name] ?? 0) + 1;
}

/**
 * A 201 counts as persisted when its content sits exactly once in MySQL, under the number the
 * 201 gave; anything else is lost. Duplicated counts contents persisted more than once plus
 * numbers that two 201s gave out.
 */
export function judge(outcomes: readonly Outcome[], rows: readonly Row[]): Verdict {
  const byContent = new Map<string, Row[]>();
  for (const row of rows) {
    if (row.content === null) continue;
    const list = byContent.get(row.content) ?? [];
    list.push(row);
    byContent.set(row.content, list);
  }
  const examples: string[] = [];
  const example = (text: string) => {
    if (examples.length < 12) examples.push(text);
  };
  let acknowledged = 0;
  let persisted = 0;
  let dishonest = 0;
  let unknownCodes = 0;
  const unavailable: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  const issued = new Map<string, string>();
  let reissued = 0;
  const codes = new Set<string>(UNAVAILABLE_CODES);

  for (const o of outcomes) {
    const found = byContent.get(o.content) ?? [];
    if (o.status === 201) {
      acknowledged++;
      const scope = o.kind === 'chat' ? 0 : o.chat;
      const k = key(o.kind, scope, o.number);
      const earlier = issued.get(k);
      if (earlier !== undefined) {
        reissued++;
        example(`${o.kind} ${scope}/${o.number} given to both ${earlier} and ${o.content}`);
      } else issued.set(k, o.content);
      const row = found[0];
      if (
        found.length === 1 &&
        row !== undefined &&
        row.kind === o.kind &&
        row.scope === scope &&
        row.number === o.number
      ) {
        persisted++;
      } else if (found.length === 0) {
        example(`${o.content}: 201 as ${k}, not persisted`);
      } else if (found.length === 1) {
        example(
          `${o.content}: 201 as ${k}, persisted as ${key(row!.kind, row!.scope, row!.number)}`,
        );
      }
    } else if (o.status === 503) {
      bump(unavailable, o.code ?? 'none');
      if (!codes.has(o.code ?? '')) {
        unknownCodes++;
        example(`${o.content}: 503 with code ${o.code}`);
      }
      if (o.code !== 'outcome_unknown' && found.length > 0) {
        dishonest++;
        example(`${o.content}: 503 ${o.code} promises nothing persisted, but it was`);
      }
    } else {
      bump(unexpected, o.status === 0 ? (o.code ?? 'no_response') : `${o.status}:${o.code}`);
      example(`${o.content}: ${o.status} ${o.code ?? ''} (${o.kind} ${o.chat ?? ''})`);
    }
  }
  let twice = 0;
  for (const [content, list] of byContent) {
    if (list.length > 1) {
      twice++;
      example(`${content} persisted ${list.length} times`);
    }
  }
  return {
    acknowledged,
    persisted,
    lost: acknowledged - persisted,
    duplicated: twice + reissued,
    reissued,
    unavailable,
    dishonest,
    unknownCodes,
    unexpected,
    examples,
  };
}

const braces = (counts: Record<string, number>) =>
  `{${Object.entries(counts)
    .map(([k, v]) => `${k}:${v}`)
    .join(',')}}`;

export function summaryLine(
  id: number,
  name: string,
  v: Verdict,
  seconds: number,
  extra: Record<string, string | number> = {},
): string {
  const more = Object.entries({
    reissued: v.reissued,
    dishonest503s: v.dishonest,
    unexpected: braces(v.unexpected),
    ...extra,
  })
    .map(([k, value]) => `${k}=${value}`)
    .join(' ');
  return (
    `fault ${id} ${name}: acknowledged=${v.acknowledged} persisted=${v.persisted} ` +
    `lost=${v.lost} duplicated=${v.duplicated} 503s=${braces(v.unavailable)} ` +
    `seconds=${seconds.toFixed(1)} ${more}`
  );
}
