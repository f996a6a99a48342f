import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'examples/*/dist/**', 'examples/node_modules/**', 'test/fixtures/**/node_modules/**', 'test/fixtures/**/dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setImmediate: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly',
        AbortSignal: 'readonly', Buffer: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly',
        Response: 'readonly', Headers: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The engine must not read ambient time or randomness: they come from Clock and Random.
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Use the injected Clock.' },
        { object: 'Math', property: 'random', message: 'Use the injected Random.' },
      ],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use the injected Clock.' },
        { name: 'setInterval', message: 'Use the injected Clock.' },
      ],
    },
  },
  {
    // Where real time and real I/O are the point: the real implementations, scripts and tests.
    files: ['src/core/system-*.ts', 'src/core/http-transport.ts', 'src/master-list/**', 'src/adapters/**', 'src/demo/**', 'src/cli/**', 'src/metrics/**', 'examples/**', 'scripts/**', 'bench/**', 'test/**', '**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off', 'no-restricted-globals': 'off' },
  },
);
