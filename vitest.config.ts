import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One copy of graphql for everyone: yoga, Pothos and graphql-ws load its CommonJS build, so the
    // project's own imports must too, or `instanceof GraphQLError` and schema printing fail across copies.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // The browser tests need Chromium and a console build: `npm run test:e2e` (vitest.e2e.config.ts).
    exclude: ['tests/e2e/**', '**/node_modules/**'],
    // Tests start real servers, child processes and SQLite files: give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Says whether the sandbox (bubblewrap) is there, and so whether it is tested.
    globalSetup: ['tests/helpers/sandbox-banner.ts'],
  },
});
