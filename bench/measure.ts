import { readFileSync } from 'node:fs';

/** A process's resident memory now (VmRSS) or at its peak (VmHWM), in MiB, from /proc. */
export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field));
  return Math.round(Number(/([0-9]+)/.exec(line ?? '')?.[1] ?? 0) / 1024);
}

/** The p-th percentile of values sorted ascending (NaN when there are none). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** POSTs `body` as JSON to the API under test and returns its JSON answer. */
export async function postJson(
  base: string,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}
