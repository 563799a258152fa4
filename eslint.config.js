// ESLint for NormLab: rules that catch bugs the type checker lets through (a promise nobody awaits, a method
// called without its object, a prop mutated in place, a switch that misses a new status), not formatting.
// Type-aware: the TypeScript rules see the types `npm run typecheck` sees, because tsconfig.json includes every
// .ts and .vue file linted here (a file outside it fails with "was not found by the project service").
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import pluginVue from 'eslint-plugin-vue';
import vueParser from 'vue-eslint-parser';

const typeAwareParserOptions = {
  projectService: true,
  tsconfigRootDir: import.meta.dirname,
  extraFileExtensions: ['.vue'],
};

// On top of eslint's and typescript-eslint's recommended sets, for every TypeScript and Vue file.
const bugRules = {
  eqeqeq: ['error', 'always', { null: 'ignore' }],
  'no-fallthrough': 'error',
  'no-self-compare': 'error',
  'no-template-curly-in-string': 'error',
  'no-unmodified-loop-condition': 'error',
  'no-constructor-return': 'error',
  'array-callback-return': 'error',
  // `for await (const x of it) return x` is how we take the first item of a stream; plain loops that run
  // at most once are still reported
  'no-unreachable-loop': ['error', { ignore: ['ForOfStatement'] }],
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/await-thenable': 'error',
  '@typescript-eslint/no-unnecessary-type-assertion': 'error',
  '@typescript-eslint/no-unused-vars': [
    'error',
    { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
  ],
  '@typescript-eslint/switch-exhaustiveness-check': [
    'error',
    { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
  ],
  // `return promise` inside try/catch skips the catch when the promise rejects
  '@typescript-eslint/return-await': ['error', 'in-try-catch'],
  // numbers sort as strings without a comparator: [10, 9, 1].sort() is [1, 10, 9]
  '@typescript-eslint/require-array-sort-compare': ['error', { ignoreStringArrays: true }],
  // spreading a Promise, a Map or a class instance copies nothing useful
  '@typescript-eslint/no-misused-spread': 'error',
  '@typescript-eslint/no-deprecated': 'error',
  // a catch hands its unknown error on: rejecting with it is correct, not a non-Error rejection
  '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
  // shapes in messages read like tfjs's ("got shape [2,3]"): number arrays stringify as intended
  '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowArray: true }],
  // `async` without `await` is how an interface's Promise-returning method is implemented so that a throw
  // becomes a rejection; dropping the keyword would change behaviour, so the rule only restates style
  '@typescript-eslint/require-await': 'off',
};

export default defineConfig(
  {
    // build output, installed packages, scratch space and test artefacts
    ignores: ['out/**', 'dist/**', 'node_modules/**', 'scratch/**', 'test-results/**', 'bench-results/**', '.normlab/**', '.ci/**'],
  },
  // a disable comment whose finding is gone is noise that hides the next real finding on that line
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.vue'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: typeAwareParserOptions },
    rules: bugRules,
  },
  {
    files: ['**/*.vue'],
    // flat/recommended minus its layout rules: formatting is not what lint is for here
    extends: [pluginVue.configs['flat/recommended'], pluginVue.configs['no-layout-rules']],
    languageOptions: {
      parser: vueParser,
      parserOptions: { ...typeAwareParserOptions, parser: tseslint.parser, sourceType: 'module' },
    },
    rules: {
      // vue-tsc checks names in .vue files; eslint's no-undef knows no browser globals
      'no-undef': 'off',
      'vue/no-mutating-props': 'error',
      'vue/no-unused-vars': 'error',
      'vue/require-v-for-key': 'error',
      // a misspelt or unimported component renders as an unknown element without any error
      'vue/no-undef-components': ['error', { ignorePatterns: ['^router-(link|view)$', '^RouterLink$', '^RouterView$'] }],
      // destructuring props or a ref's value in setup freezes it: the view stops updating
      'vue/no-setup-props-reactivity-loss': 'error',
      'vue/no-ref-object-reactivity-loss': 'error',
      'vue/no-unused-refs': 'error',
      'vue/no-unused-emit-declarations': 'error',
    },
  },
  {
    // Tests and benches: the same bug rules (an un-awaited `expect(...).rejects` passes vacuously), but values
    // parsed from JSON and fixtures are `any` by nature there, and vitest matchers take methods unbound.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // plain JS (the CLI launcher, this file) runs under Node and is not type-checked
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly' },
    },
    rules: { eqeqeq: ['error', 'always', { null: 'ignore' }] },
  },
);
