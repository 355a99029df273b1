import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** One root logger per program, created by its composition root and passed down. */
export function createLogger(program: string, level: LevelWithSilent): Logger {
  return pino({
    level,
    base: { program },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.adminToken'],
      censor: '[redacted]',
    },
  });
}

/** Application tokens are secrets: logs carry a short prefix only. */
export function tokenPrefix(token: string): string {
  return `${token.slice(0, 8)}…`;
}
