/**
 * `npm run bench`: measures each hot path next to a baseline run in the same
 * session on the same machine (ratios, not absolute figures, are what survive a
 * shared, noisy machine), prints a markdown table on stdout and, with
 * `--json FILE`, writes `{ "<section>": { value, baseline, ratio, target, unit, … } }`
 * (DESIGN.md's contract). Progress goes to stderr.
 *
 * Everything runs on 127.0.0.1 in a temporary folder that is deleted at the
 * end; every loop is bounded, and the whole run fits in 10 minutes on 2 cores.
 * A section that can't run (a tool is missing) is reported as n/a with the
 * reason; one that fails, as n/a with "failed: …". The others still run.
 *
 *   npm run bench -- [--only NAME] [--json FILE] [--size small|full] [--cpu-prof DIR]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startChildServer } from './child-server.ts';
import { lazyJournalistKeys, MissingToolError, type BenchContext } from './context.ts';
import { parseBenchArgs, USAGE, UsageError } from './options.ts';
import { formatTable } from './report.ts';
import { notAvailable, type SectionResult } from './result.ts';
import { SECTIONS } from './sections/index.ts';
import { SIZES } from './sizes.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

let options;
try {
  options = parseBenchArgs(process.argv.slice(2), SECTIONS.map((s) => s.name));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`${e.message}\n`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const workDir = await mkdtemp(join(tmpdir(), 'tipline-bench-'));
const keys = lazyJournalistKeys(log);
const cleanup = async () => {
  await keys.dispose();
  await rm(workDir, { recursive: true, force: true });
};
// An interrupted run still removes its keys and its gigabytes of scratch files.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`stopped by ${signal}; cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.cpuProfileDir)}`] : [];
const ctx: BenchContext = {
  sizeName: options.size,
  sizes: SIZES[options.size],
  workDir,
  deadline: performance.now() + SIZES[options.size].runSeconds * 1000,
  log,
  keys: keys.get,
  startServer: (args) => startChildServer(args, { nodeArgs }),
};
const results: Record<string, SectionResult> = {};
const runStarted = performance.now();
try {
  for (const section of SECTIONS) {
    if (options.only && section.name !== options.only) continue;
    const started = performance.now();
    log(`${section.name}: starting (${options.size})`);
    try {
      results[section.name] = await section.run(ctx);
    } catch (e) {
      // A missing tool is a reason not to run; anything else is a fault of the harness or the code, and says so.
      const reason = e instanceof MissingToolError ? e.message : `failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
      results[section.name] = notAvailable(section, reason.split('\n')[0]!.slice(0, 500));
    }
    log(`${section.name}: done in ${Math.round((performance.now() - started) / 1000)} s`);
  }
} finally {
  await cleanup();
}
log(`all done in ${Math.round((performance.now() - runStarted) / 1000)} s`);

console.log(formatTable(results));
if (options.json) await writeFile(options.json, `${JSON.stringify(results, null, 2)}\n`);
