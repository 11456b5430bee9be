import { defineConfig } from 'vitest/config';

// One test run over every package, on source (no build step). Unit tests live beside the code;
// cross-package tests live in test/. Integration tests that need PostgreSQL or an MQTT broker run
// against the embedded defaults always, and against real servers when DATABASE_URL / MQTT_URL are set.
export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: 'shared', include: ['shared/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'cloud', include: ['cloud/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'edge-agent', include: ['edge-agent/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'web-sdk', include: ['web-sdk/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'firmware-configs', include: ['firmware-configs/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/**/*.test.ts'] } },
    ],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // In CI a failing test gets one more try: many integration tests race real brokers, databases
    // and child processes on a loaded 2-core machine. A test that passes only on the retry is
    // reported as FLAKY by name at the end of `pnpm test` (scripts/flaky-reporter.mjs), never hidden.
    retry: process.env.CI ? 1 : 0,
  },
});
