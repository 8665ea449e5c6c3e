// Builds dist/ once before any test runs, so CLI and browser tests use the current code.
import { buildAll } from '../../build.mjs';

export default async function setup(): Promise<void> {
  await buildAll({ quiet: true });
}
