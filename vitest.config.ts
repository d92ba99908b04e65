import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code they test; test/ holds whole-system and format suites.
// Workers run compiled JavaScript, so the global setup builds the tree (tsc -b) first.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'build/**', 'run/**'],
    globalSetup: ['test/harness/build_once.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
