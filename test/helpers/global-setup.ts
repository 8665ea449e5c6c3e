// Builds dist/ once before any test runs, so CLI and browser tests use the current code,
// and starts the PostgreSQL the PostgreSQL suites use (postgres-server.ts).
import type { TestProject } from 'vitest/node';
import { buildAll } from '../../build.mjs';
import { startTestPostgres } from './postgres-server.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await buildAll({ quiet: true });
  const postgres = await startTestPostgres();
  project.provide('postgres', postgres.status);
  return postgres.stop;
}
