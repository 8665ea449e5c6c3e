/**
 * One-off: the firefox-safer-upload pipeline on one large file at one level,
 * to see whether the tab's memory stays flat as the file grows (the bench
 * section itself uses 256 MiB). Prints MiB/s and the tab's RSS.
 *
 * @example
 * npx esbuild --bundle --platform=node --format=esm --packages=external scripts/bench/firefox-big-file.ts --outfile=dist/bench/firefox-big-file.mjs
 * node dist/bench/firefox-big-file.mjs 2048 safer
 * node dist/bench/firefox-big-file.mjs 2048 safer 10   # segments taken at 10 MiB/s at most, as a fast network would
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import type { SecurityLevel } from '../../test/helpers/tor-browser.ts';
import { writeRandomFile } from './browser/random-file.ts';
import { runLevel } from './sections/firefox-safer-upload.ts';

const MiB = 1024 * 1024;
const mib = Number(process.argv[2] ?? 2048);
const level = (process.argv[3] ?? 'safer') as SecurityLevel;
const rate = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
if (!Number.isInteger(mib) || mib < 1 || !['standard', 'safer', 'safest'].includes(level) || (rate !== undefined && !(rate > 0))) {
  console.error('usage: firefox-big-file.mjs MIB standard|safer [MIB_PER_SECOND]');
  process.exit(2);
}
const workDir = await mkdtemp(join(tmpdir(), 'tipline-ffbig-'));
try {
  const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'bench' }], format: 'armored' });
  const file = join(workDir, 'plain.bin');
  await writeRandomFile(file, mib * MiB);
  const run = await runLevel({ workDir }, level, file, [publicKey], rate);
  const m = run.memory;
  console.log(
    `${level}: ${mib} MiB in ${(run.result.ms / 1000).toFixed(1)} s = ${run.mibPerSecond.toFixed(1)} MiB/s, ${run.result.segments} segments; ` +
      `tab RSS start ${Math.round(m.startBytes / MiB)}, median ${Math.round(m.medianBytes / MiB)}, peak ${Math.round(m.peakBytes / MiB)} MiB (${m.samples} samples); median by tenth of the run: ${m.tenthsBytes.map((b) => Math.round(b / MiB)).join(", ")} MiB`,
  );
} finally {
  await rm(workDir, { recursive: true, force: true });
}
