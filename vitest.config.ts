import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one private containerd per file; files run in parallel processes.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
