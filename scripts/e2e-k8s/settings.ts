/** Settings of the `e2e:k8s` smoke test, from its flags and environment (see scripts/e2e-k8s.ts). */
import { parseArgs } from 'node:util';

export interface E2eSettings {
  readonly baseUrl: string;
  readonly namespace: string;
  readonly release: string;
  readonly timeoutMs: number;
  readonly skipRollout: boolean;
}

export function e2eSettings(argv: readonly string[], env: NodeJS.ProcessEnv): E2eSettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'base-url': { type: 'string' },
      namespace: { type: 'string' },
      release: { type: 'string' },
      timeout: { type: 'string' },
      'skip-rollout': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const pick = (flag: string | undefined, variable: string, fallback: string) =>
    flag ?? (env[variable] === undefined || env[variable] === '' ? fallback : env[variable]);
  const timeoutSeconds = Number(pick(values.timeout, 'E2E_TIMEOUT_SECONDS', '600'));
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new Error(`--timeout must be a positive number of seconds`);
  }
  const baseUrl = pick(values['base-url'], 'E2E_BASE_URL', 'http://localhost');
  if (!/^https?:\/\//.test(baseUrl))
    throw new Error(`--base-url must be an http(s) URL: ${baseUrl}`);
  return {
    baseUrl,
    namespace: pick(values.namespace, 'E2E_NAMESPACE', 'chat-system'),
    release: pick(values.release, 'E2E_RELEASE', 'chat-system'),
    timeoutMs: timeoutSeconds * 1000,
    skipRollout: values['skip-rollout'],
  };
}
