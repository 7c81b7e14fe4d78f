// typescript-eslint's strict, type-checked rules over the whole tree. Where a rule is tuned or off, the line says why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'docs/', 'coverage/', '.tap/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Error details interpolate counts, flags and ids that may be null on purpose ("rider null").
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      // With noUncheckedIndexedAccess every typed-array read on the hot path is `T | undefined`; `!` there is deliberate.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `(x) => void send(x)` shorthand in callbacks reads better than a block.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Ports are async by contract (JobQueue, EventStore); an in-memory implementation has nothing to await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `query<R>()` lets a caller name the row type it reads; the rule counts that as a disguised cast.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
    },
  },
  {
    // At the edges values are not what their declared types say: pg answers bigints as strings, uWS getters
    // return undefined for what their typings call strings, flags change across an await. Defensive checks
    // and conversions there are deliberate; the pure engine and protocol keep both rules.
    files: ['adapters/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
    },
  },
  {
    // XState's typegen-free setup takes `types: {} as {...}`; the rule reads that assertion as unnecessary.
    files: ['engine/machines/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-type-assertion': 'off' },
  },
  {
    // The admin console prints messages as proto-loader builds them at run time (no generated types).
    files: ['scripts/admin.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap tracks its subtests: `t.test(...)` at the top of a file is not a lost promise.
      '@typescript-eslint/no-floating-promises': 'off',
      // Tests read parsed JSON bodies and frames (`any`) to assert on them.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
    },
  },
);
