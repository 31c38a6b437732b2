import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:e2e`: the console in headless Chromium (Debian's, `apt-get install -y chromium`)
 * driven by playwright-core against the real server and a fake Ollama. The console is built once,
 * in the global setup, when its build is missing or stale.
 */
export default defineConfig({
  resolve: {
    // As in vitest.config.ts: one copy of graphql.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    globalSetup: ['tests/e2e/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // One browser at a time: these tests watch timings on a 2-core machine.
    fileParallelism: false,
  },
});
