// typescript-eslint's recommended rules over src/, test/ and bench/ (formatting is prettier's job).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'runs/', 'bench/out/', 'web/dist/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', performance: 'readonly' } },
    rules: {
      // tfjs backend internals (kernel registries, backend data maps) are untyped; casts stay visible
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // one test style: describe/it from node:test (docs/CONTRIBUTING.md)
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'node:test', importNames: ['test'], message: 'use describe/it (one test style)' }] },
      ],
    },
  },
);
