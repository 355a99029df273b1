import type { HealthCheck } from '../domain/ports.js';

export interface ReadinessReport {
  readonly ready: boolean;
  /** `ok`, or why the check failed. */
  readonly checks: Record<string, string>;
}

/** Readiness: every dependency answers within the timeout and the program is not draining. */
export class Readiness {
  private draining = false;

  constructor(
    private readonly checks: readonly HealthCheck[],
    private readonly timeoutMs = 1_000,
  ) {}

  drain(): void {
    this.draining = true;
  }

  async report(): Promise<ReadinessReport> {
    const results = await Promise.all(
      this.checks.map(async (c) => ({ check: c, result: await this.run(c) })),
    );
    const checks = Object.fromEntries(results.map(({ check, result }) => [check.name, result]));
    if (this.draining) checks['shutdown'] = 'draining';
    const ready = results.every(({ check, result }) => result === 'ok' || check.critical === false);
    return { ready: !this.draining && ready, checks };
  }

  private async run(check: HealthCheck): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check.check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), this.timeoutMs);
        }),
      ]);
      return 'ok';
    } catch (err) {
      return err instanceof Error ? err.message : 'failed';
    } finally {
      clearTimeout(timer);
    }
  }
}
