// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const ioLibraries = [
  'koa',
  '@koa/*',
  'co-body',
  'sequelize',
  'mysql2',
  'mysql2/*',
  'umzug',
  'ioredis',
  'amqplib',
  '@elastic/*',
  'prom-client',
  'pino',
  '@kubernetes/*',
  'node:net',
  'node:http',
  'node:fs',
  'node:fs/*',
  'node:child_process',
];

// Where the adapters live: what services and jobs must not import.
const adapterFolders = [
  '**/db/**',
  '**/redis/**',
  '**/queue/**',
  '**/search/**',
  '**/k8s/**',
  '**/http/**',
  '**/ops/**',
  '**/flusher/**',
];

/**
 * Import rules for some of internal/: never cmd/, plus `patterns`. A later block replaces an
 * earlier one's rule for the same files, so each repeats the cmd/ pattern.
 * @param {string[]} files
 * @param {{ group: string[], message: string }[]} patterns
 */
function restrictImports(files, ...patterns) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/cmd/**'], message: 'internal/ must not import cmd/.' },
            ...patterns,
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.cache/', 'charts/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
    },
  },
  restrictImports(['internal/**/*.ts']),
  restrictImports(
    ['internal/domain/**/*.ts'],
    { group: ioLibraries, message: 'internal/domain holds pure rules: no I/O libraries.' },
    {
      group: ['../*', '!../domain'],
      message: 'internal/domain must not depend on other internal packages.',
    },
  ),
  // Use cases and background jobs reach the world only through the ports in
  // internal/domain/ports.ts; the composition roots in cmd/ hand them the adapters.
  restrictImports(
    ['internal/service/**/*.ts', 'internal/jobs/**/*.ts'],
    {
      group: ioLibraries,
      message: 'Services and jobs depend on ports (internal/domain/ports.ts): no I/O libraries.',
    },
    {
      group: adapterFolders,
      message: 'Services and jobs depend on ports (internal/domain/ports.ts), not on adapters.',
    },
  ),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  prettier,
);
