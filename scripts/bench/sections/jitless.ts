/**
 * jitless: what a source's browser does by hand with the JIT off (Tor Browser
 * at "Safer"; `node --jitless` stands in): a codename login (parse, HKDF,
 * X25519, open a reply; dist/login-timing.js) and the proof-of-work solver's
 * expected time at the server's default difficulty (dist/pow-timing.js). The
 * baseline is the same scripts with the JIT. Each runs in its own process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchContext } from '../context.ts';
import { lowerIsBetter, round, type SectionResult } from '../result.ts';

const run = promisify(execFile);
const LOGIN_TIMING = fileURLToPath(new URL('../login-timing.js', import.meta.url));
const POW_TIMING = fileURLToPath(new URL('../pow-timing.js', import.meta.url));
const LOGIN_LIMIT_MS = 1000;

type LoginTiming = { ok: boolean; medianMs: number; jitless: boolean };
type PowTiming = { ok: boolean; expectedMs: number; hashesPerSecond: number; difficulty: number; jitless: boolean };

export async function jitlessSection(ctx: BenchContext): Promise<SectionResult> {
  const { runs, powHashes } = ctx.sizes.jitless;
  const loginJitless = await timing<LoginTiming>(LOGIN_TIMING, [String(runs)], true);
  const loginJit = await timing<LoginTiming>(LOGIN_TIMING, [String(runs)], false);
  const powJitless = await timing<PowTiming>(POW_TIMING, [String(powHashes)], true);
  const powJit = await timing<PowTiming>(POW_TIMING, [String(powHashes)], false);
  ctx.log(`jitless: login ${loginJitless.medianMs} ms, proof of work ${powJitless.expectedMs} ms expected`);
  return lowerIsBetter({
    value: loginJitless.medianMs,
    baseline: loginJit.medianMs,
    unit: 'ms (login)',
    target: 'login < 1 s jitless; proof of work printed',
    meets: loginJitless.medianMs < LOGIN_LIMIT_MS,
    details: {
      [`proof of work at difficulty ${powJitless.difficulty}, expected ms`]: `${powJitless.expectedMs} jitless vs ${powJit.expectedMs} with the JIT (${round(powJit.expectedMs / powJitless.expectedMs)}×)`,
      'SHA-256 tries/s': `${powJitless.hashesPerSecond} vs ${powJit.hashesPerSecond}`,
      'login runs': runs,
    },
  });
}

async function timing<T extends { ok: boolean; jitless: boolean }>(script: string, args: string[], jitless: boolean): Promise<T> {
  const { stdout } = await run(process.execPath, [...(jitless ? ['--jitless'] : []), script, ...args]);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
  if (!result.ok || result.jitless !== jitless) throw new Error(`${script} did not run as expected: ${stdout.trim()}`);
  return result;
}
