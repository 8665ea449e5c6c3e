/**
 * firefox-safer-upload: MiB/s at which the source's page reads, pads,
 * encrypts (segments, client/source/segment-encryptor.ts) and hashes a large
 * attachment in Debian's Firefox ESR with Tor Browser's prefs at "Safer" (no
 * JIT, no WebAssembly: test/helpers/tor-browser.ts), side by side with the
 * same at "Standard", and the tab's memory at each. The file is given to a
 * file input by its path, so the page reads it from disk as a source's page
 * does. The network is left out: over Tor the link (1–5 MB/s) is slower than
 * either level, so this is the page's own ceiling.
 *
 * Value: MiB/s at Safer; baseline: MiB/s at Standard; the target is Safer ≥
 * {@link TARGET_MIB_S} MiB/s. Memory: the resident memory (VmRSS) of the
 * Firefox process that grew most while the page worked (the tab's content
 * process, where its workers run too): at its start, its median and its peak.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FIREFOX_PATH, launchTorBrowserLike, type SecurityLevel } from '../../../test/helpers/tor-browser.ts';
import type { PageEncryptResult } from '../browser/encrypt-in-page.ts';
import { startPageServer } from '../browser/page-server.ts';
import { writeRandomFile } from '../browser/random-file.ts';
import type { BenchContext } from '../context.ts';
import { readRss } from '../rss-sampler.ts';
import { higherIsBetter, notAvailable, round, type SectionResult } from '../result.ts';

const MiB = 1024 * 1024;
const TARGET_MIB_S = 20;
const TARGET = `≥ ${TARGET_MIB_S} MiB/s at Safer (value: Safer; baseline: Standard)`;
const UNIT = 'MiB/s';

export type LevelRun = { level: SecurityLevel; mibPerSecond: number; result: PageEncryptResult; memory: ProcessMemory };

export async function firefoxSaferUploadSection(ctx: BenchContext): Promise<SectionResult> {
  if (!existsSync(FIREFOX_PATH)) return notAvailable({ unit: UNIT, target: TARGET }, `Firefox ESR is not installed at ${FIREFOX_PATH} (apt-get install firefox-esr)`);
  const keys = await ctx.keys();
  const bytes = ctx.sizes.firefoxSaferUpload.bytes;
  const file = join(ctx.workDir, 'firefox-plaintext.bin');
  await writeRandomFile(file, bytes);
  try {
    const runs: LevelRun[] = [];
    for (const level of ['standard', 'safer'] as const) runs.push(await runLevel(ctx, level, file, keys.keys.map((k) => k.armoredPublic)));
    const [standard, safer] = runs as [LevelRun, LevelRun];
    for (const r of runs) {
      if (r.result.plainBytes !== bytes) throw new Error(`the page at ${r.level} read ${r.result.plainBytes} bytes, not ${bytes}`);
      ctx.log(`firefox-safer-upload: ${r.level} ${round(r.mibPerSecond)} MiB/s, tab RSS ${mib(r.memory.startBytes)} → peak ${mib(r.memory.peakBytes)} MiB (median ${mib(r.memory.medianBytes)})`);
    }
    return higherIsBetter({
      value: safer.mibPerSecond,
      baseline: standard.mibPerSecond,
      unit: UNIT,
      target: TARGET,
      minRatio: 0,
      alsoMeets: safer.mibPerSecond >= TARGET_MIB_S,
      details: {
        size: `${round(bytes / MiB)} MiB`,
        seconds: `${round(safer.result.ms / 1000)} (Safer) vs ${round(standard.result.ms / 1000)} (Standard)`,
        segments: safer.result.segments,
        workers: `${Math.max(2, Math.min(4, safer.result.hardwareConcurrency))} (hardwareConcurrency ${safer.result.hardwareConcurrency})`,
        saferTabRssMiB: `start ${mib(safer.memory.startBytes)}, median ${mib(safer.memory.medianBytes)}, peak ${mib(safer.memory.peakBytes)}`,
        standardTabRssMiB: `start ${mib(standard.memory.startBytes)}, median ${mib(standard.memory.medianBytes)}, peak ${mib(standard.memory.peakBytes)}`,
      },
    });
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * One fresh browser at `level`: the page, the file picked, the pipeline timed
 * while memory is watched. `mibPerSecond`: the page takes the segments no
 * faster than this, as a network would (none: as fast as they come).
 */
export async function runLevel(ctx: Pick<BenchContext, 'workDir'>, level: SecurityLevel, file: string, armoredKeys: string[], mibPerSecond?: number): Promise<LevelRun> {
  const page = await startPageServer(ctx.workDir, file);
  try {
    // A run at a network's pace may take minutes: 15 for the call that waits for it.
    const browser = await launchTorBrowserLike(level, mibPerSecond ? { protocolTimeoutMs: 900_000 } : {});
    try {
      const tab = await browser.newPage();
      const pageErrors: string[] = [];
      tab.on('pageerror', (e) => pageErrors.push(String(e)));
      tab.on('console', (m) => pageErrors.push(m.text()));
      await tab.goto(page.url);
      // Polled with evaluate: waitForFunction's own polling doesn't fire over BiDi here.
      for (const until = Date.now() + 60_000; !(await tab.evaluate(`'benchEncrypt' in globalThis`).catch(() => false)); ) {
        if (Date.now() > until) throw new Error(`the bench page did not load in Firefox: ${pageErrors.join('; ').slice(0, 300) || 'no error reported'}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const input = await tab.$('#file');
      if (!input) throw new Error('the bench page has no file input');
      await (input as unknown as { uploadFile: (p: string) => Promise<void> }).uploadFile(file);
      const pid = browser.process()?.pid;
      if (pid === undefined) throw new Error('Firefox has no process id');
      const watch = ProcessTreeMemory.start(pid);
      const running = tab.evaluate(
        (k: string[], rate: number) => (globalThis as unknown as { benchEncrypt: (k: string[], s: string, r: number) => Promise<PageEncryptResult> }).benchEncrypt(k, '#file', rate),
        armoredKeys,
        mibPerSecond ?? 0,
      );
      const result = await running.finally(() => undefined).catch((e: unknown) => {
        watch.stop();
        throw e;
      });
      const memory = watch.stop();
      return { level, mibPerSecond: result.plainBytes / MiB / (result.ms / 1000), result, memory };
    } finally {
      await browser.close();
    }
  } finally {
    await page.close();
  }
}

/** `tenthsBytes`: the median of each tenth of the run, in order: flat memory shows as no trend across them. */
export type ProcessMemory = { pid: number; startBytes: number; medianBytes: number; peakBytes: number; samples: number; tenthsBytes: number[] };

/** VmRSS of every process under Firefox's, sampled from outside; reports the one that grew most. */
class ProcessTreeMemory {
  private readonly samples = new Map<number, number[]>();
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly root: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  static start(root: number): ProcessTreeMemory {
    if (readRss(root) === undefined) throw new Error('cannot read process memory (/proc is Linux only)');
    return new ProcessTreeMemory(root);
  }

  private sample(): void {
    for (const pid of descendants(this.root)) {
      const rss = readRss(pid);
      if (rss === undefined) continue;
      const list = this.samples.get(pid) ?? [];
      list.push(rss);
      this.samples.set(pid, list);
    }
  }

  stop(): ProcessMemory {
    clearInterval(this.timer);
    this.sample();
    let best: ProcessMemory | undefined;
    for (const [pid, list] of this.samples) {
      const sorted = [...list].sort((a, b) => a - b);
      const m: ProcessMemory = { pid, startBytes: list[0]!, medianBytes: median(list), peakBytes: sorted[sorted.length - 1]!, samples: list.length, tenthsBytes: tenths(list) };
      if (!best || m.peakBytes - m.startBytes > best.peakBytes - best.startBytes) best = m;
    }
    if (!best) throw new Error('no Firefox process was seen');
    return best;
  }
}

/** Every process below `root` (children, grandchildren…), by the parent ids in /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command may hold spaces and parentheses: the ppid is the second field after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) if (ppid === pid) out.push(child), walk(child);
  };
  walk(root);
  return out;
}

const mib = (b: number) => Math.round(b / MiB);

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function tenths(list: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < 10; i++) {
    const part = list.slice(Math.floor((i * list.length) / 10), Math.floor(((i + 1) * list.length) / 10));
    if (part.length > 0) out.push(median(part));
  }
  return out;
}

