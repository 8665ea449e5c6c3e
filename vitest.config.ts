import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const common = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

/**
 * The storage and integration suites, run a second time with every test
 * newsroom on its own PostgreSQL database (test/helpers/newsroom.ts), against
 * the server the global setup starts (test/helpers/postgres-server.ts).
 */
const POSTGRES_SUITES = [
  'test/api.test.ts',
  'test/conversation-api.test.ts',
  'test/uploads.test.ts',
  'test/proof-of-work.test.ts',
  'test/limits-and-retention.test.ts',
  'test/hostile-input.test.ts',
  'test/journalist-conversation.test.ts',
  'test/key-lifecycle.test.ts',
  'test/rekey.test.ts',
  'test/rekey-attachments.test.ts',
  'test/key-packet-swap.test.ts',
  'test/followup-attachments.test.ts',
  'test/group-commit.test.ts',
  'test/conversation-hold.test.ts',
  'test/no-js-refusals.test.ts',
  'test/form-token.test.ts',
];

// Outside CI, a machine without PostgreSQL skips the second run (and says so); under CI=true
// the global setup fails instead, so CI can never pass without it.
const havePostgres =
  !!process.env.TIPLINE_TEST_DATABASE_URL ||
  (existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)));
if (!havePostgres && process.env.CI !== 'true') {
  console.warn('PostgreSQL is not installed: skipping the PostgreSQL run of the storage suites (install Debian\'s postgresql to run it).');
}

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    ...common,
    // Two cores here: browser and gpg tests are heavy, so don't oversubscribe.
    maxWorkers: 2,
    // The JSON report is what .ci/run counts from; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    projects: [
      // A DATABASE_URL in the developer's shell must not turn the SQLite tests into PostgreSQL ones.
      { test: { name: 'sqlite', include: ['test/**/*.test.ts'], ...common, env: { DATABASE_URL: '' } } },
      ...(havePostgres || process.env.CI === 'true'
        ? [{ test: { name: 'postgres', include: POSTGRES_SUITES, ...common, env: { DATABASE_URL: '', TIPLINE_TEST_DATABASE: 'postgres' } } }]
        : []),
    ],
  },
});
