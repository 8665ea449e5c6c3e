/**
 * `npm run bench` options:
 *
 *   --only NAME    run one section (see sections/index.ts for the names)
 *   --json FILE    also write the results as JSON to FILE
 *   --size small   tiny sizes, for the smoke test (default: full)
 *   --cpu-prof DIR write CPU profiles of the servers under test to DIR (open them in
 *                  Chrome DevTools or speedscope), to see where their time goes
 */
import type { SizeName } from './sizes.ts';

export type BenchOptions = { only: string | undefined; json: string | undefined; size: SizeName; cpuProfileDir: string | undefined; help: boolean };

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = 'usage: npm run bench -- [--only NAME] [--json FILE] [--size small|full] [--cpu-prof DIR]';

export function parseBenchArgs(argv: string[], sectionNames: string[]): BenchOptions {
  const options: BenchOptions = { only: undefined, json: undefined, size: 'full', cpuProfileDir: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') {
      options.help = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value. ${USAGE}`);
    if (flag === '--only') {
      if (!sectionNames.includes(value)) throw new UsageError(`no section "${value}"; the sections are: ${sectionNames.join(', ')}`);
      options.only = value;
    } else if (flag === '--json') {
      options.json = value;
    } else if (flag === '--cpu-prof') {
      options.cpuProfileDir = value;
    } else if (flag === '--size') {
      if (value !== 'small' && value !== 'full') throw new UsageError(`--size is small or full, not "${value}"`);
      options.size = value;
    } else {
      throw new UsageError(`unknown option ${flag}. ${USAGE}`);
    }
  }
  return options;
}
