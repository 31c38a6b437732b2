import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';
const require = createRequire('/work/main/package.json');
export default defineConfig({
  root: '/work/main',
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: { include: ['tests/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000, pool: 'forks' },
});
