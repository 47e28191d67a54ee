import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/build-client.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration tests open many sockets; two workers match the two cores of CI machines.
    maxWorkers: 2,
  },
});
