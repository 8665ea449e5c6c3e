import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    // A DATABASE_URL in the developer's shell must not turn the SQLite tests into PostgreSQL ones.
    env: { DATABASE_URL: '' },
    hookTimeout: 120_000,
    // Two cores here: browser and gpg tests are heavy, so don't oversubscribe.
    maxWorkers: 2,
    // The JSON report is what .ci/run counts from; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
