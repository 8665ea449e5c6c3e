/**
 * browser-upload: the source's real page, end to end, in headless Chromium
 * against the real server on 127.0.0.1: /submit, a generated file given to
 * "Attach files" by its path (Chromium reads it from disk; Node never holds
 * it), Submit, and the page's own picker, segmented encryption and hashing in
 * its workers, and chunked upload, until it says the tip was received. Done at two sizes, each
 * in a fresh browser, while the tab's memory is watched (browser/tab-memory.ts).
 *
 * The figure is the tab's median resident memory while it sends the large
 * file; the baseline is the same for the small one. Flat, as the issue asks,
 * means the large file costs no more than the small one, give or take
 * {@link FLAT_MARGIN_MIB}, both while sending (median) and after a full
 * collection once it is done (back where it started, if nothing was kept).
 * Why the median and not the peak: memory saws up and down with garbage
 * collection, and the highest tooth of a send eight times longer is higher
 * for that reason alone (measured: peaks 468 vs 569 MiB for 64 and 512 MiB,
 * medians 351 vs 375, after collection 163 vs 164). The peaks are in the
 * details, with the JS heap and ArrayBuffer memory.
 * The details add the speeds, read from the page's own Resource Timing: the
 * file phase runs from the upload's creation to the last chunk's answer;
 * upload is the time spent in the chunk PUTs, encrypt the rest of the phase
 * (reading, hashing, encrypting: the page encrypts while no chunk is in
 * flight). The final `complete` is left out: Chromium files no timing for a
 * response whose body the page never reads.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '../../../server/db/open-database.ts';
import { RowBlobStore } from '../../../server/uploads/row-blob-store.ts';
import { makeBenchNewsroom } from '../bench-newsroom.ts';
import { launchOverPipe } from '../browser/cdp-pipe.ts';
import { TabMemory, type TabMemoryFigures } from '../browser/tab-memory.ts';
import { writeRandomFile } from '../browser/random-file.ts';
import type { BenchContext } from '../context.ts';
import { BENCH_POW_DIFFICULTY } from '../presolved-pow.ts';
import { lowerIsBetter, notAvailable, round, type SectionResult } from '../result.ts';

const MiB = 1024 * 1024;
/**
 * How much more the large file may cost than the small one and still count as
 * flat: the issue's own bound for the server receiving 1 GiB. A tab that held
 * the file, or its ciphertext, would grow by the 448 MiB between the sizes;
 * one that streams moves only with garbage collection's timing (the page
 * leaves some 100 MiB of spent ArrayBuffers for V8 to collect at its own pace).
 */
const FLAT_MARGIN_MIB = 64;
const UNIT = 'MiB (median tab RSS while sending)';
// Debian's Chromium (STACK.md), with the flags that keep it from phoning home.
const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
/** A bound on one send, whatever the machine (512 MiB at the slowest speed seen, 4 MiB/s, is about 130 s). */
const SEND_TIMEOUT_MS = 600_000;

export const browserUploadTarget = (sizes: readonly [number, number]) =>
  `tab memory flat: median while sending, and after GC, at ${sizes[1] / MiB} MiB ≤ the same at ${sizes[0] / MiB} MiB + ${FLAT_MARGIN_MIB} MiB`;

type Run = { bytes: number; memory: TabMemoryFigures; phaseSeconds: number; uploadSeconds: number; chunks: number; blobBytes: number };

export async function browserUploadSection(ctx: BenchContext): Promise<SectionResult> {
  const sizes = ctx.sizes.browserUpload.bytes;
  const target = browserUploadTarget(sizes);
  if (!existsSync(CHROMIUM_PATH)) return notAvailable({ unit: UNIT, target }, `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium)`);
  if (!existsSync('/proc/self/status')) return notAvailable({ unit: UNIT, target }, 'process memory can only be read on Linux (/proc)');
  const keys = await ctx.keys();
  const newsroom = await makeBenchNewsroom(ctx.workDir, keys);
  const server = await ctx.startServer(['app', newsroom.dataDir, String(BENCH_POW_DIFFICULTY)]);
  const runs: Run[] = [];
  try {
    for (const bytes of sizes) {
      const file = join(ctx.workDir, `browser-upload-${bytes}.bin`);
      await writeRandomFile(file, bytes);
      try {
        const run = await sendThroughPage(server.url, file, bytes, newsroom.dbFile, ctx.workDir);
        runs.push(run);
        ctx.log(
          `browser-upload: ${round(bytes / MiB)} MiB: tab RSS ${round(run.memory.startRssBytes / MiB)} MiB before, peak ${round(run.memory.peakRssBytes / MiB)}, ` +
            `median ${round(run.memory.medianRssBytes / MiB)}, ${round(run.memory.afterGcRssBytes / MiB)} after GC; ` +
            `JS heap ${round(run.memory.peakJsHeapBytes / MiB)} MiB, ArrayBuffers ${round(run.memory.peakArrayBufferBytes / MiB)} MiB; encrypt ${round(mibPerSecond(bytes, run.phaseSeconds - run.uploadSeconds))} MiB/s, ` +
            `upload ${round(mibPerSecond(run.blobBytes, run.uploadSeconds))} MiB/s`,
        );
      } finally {
        await rm(file, { force: true });
      }
    }
  } finally {
    await server.stop();
  }
  const [small, large] = runs as [Run, Run];
  const both = (f: (r: Run) => number) => `${round(f(large))} vs ${round(f(small))}`;
  return lowerIsBetter({
    value: large.memory.medianRssBytes / MiB,
    baseline: small.memory.medianRssBytes / MiB,
    unit: UNIT,
    target,
    meets:
      large.memory.medianRssBytes <= small.memory.medianRssBytes + FLAT_MARGIN_MIB * MiB &&
      large.memory.afterGcRssBytes <= small.memory.afterGcRssBytes + FLAT_MARGIN_MIB * MiB,
    details: {
      'file MiB': both((r) => r.bytes / MiB),
      'tab RSS before MiB': both((r) => r.memory.startRssBytes / MiB),
      'tab RSS peak MiB': both((r) => r.memory.peakRssBytes / MiB),
      'tab RSS after GC MiB': both((r) => r.memory.afterGcRssBytes / MiB),
      'peak JS heap MiB': both((r) => r.memory.peakJsHeapBytes / MiB),
      'peak ArrayBuffer MiB': both((r) => r.memory.peakArrayBufferBytes / MiB),
      'encrypt MiB/s': both((r) => mibPerSecond(r.bytes, r.phaseSeconds - r.uploadSeconds)),
      'upload MiB/s': both((r) => mibPerSecond(r.blobBytes, r.uploadSeconds)),
      'encrypt + upload MiB/s': both((r) => mibPerSecond(r.bytes, r.phaseSeconds)),
      chunks: both((r) => r.chunks),
    },
  });
}

/** One tip with one attachment, through the page, in a fresh browser (driven over a pipe: see cdp-pipe.ts for why not Playwright). */
/** Attachments live in the database's rows (server/uploads/row-blob-store.ts): look at them through a connection of our own. */
async function storedBlobs<T>(dbFile: string, use: (blobs: RowBlobStore) => Promise<T>): Promise<T> {
  const db = await openDatabase(dbFile);
  try {
    return await use(new RowBlobStore(db));
  } finally {
    await db.destroy();
  }
}

async function sendThroughPage(url: string, file: string, bytes: number, dbFile: string, workDir: string): Promise<Run> {
  const blobsBefore = new Set(await storedBlobs(dbFile, (b) => b.ids()));
  const chrome = await launchOverPipe(CHROMIUM_PATH, CHROMIUM_ARGS, workDir);
  try {
    const tab = await chrome.openTab(`${url}/submit`);
    await tab.evaluate(`document.getElementById('message').value = 'The ledger, attached.'`);
    const { root } = (await tab.send('DOM.getDocument')) as { root: { nodeId: number } };
    const { nodeId } = (await tab.send('DOM.querySelector', { nodeId: root.nodeId, selector: '#attach' })) as { nodeId: number };
    await tab.send('DOM.setFileInputFiles', { nodeId, files: [file] });
    // Prepared (the picker has looked at it) before the clock starts.
    await tab.waitFor(`document.querySelector('.attachment-note')?.textContent`, 30_000);
    // Every chunk's timing, not just the first 250.
    await tab.evaluate('performance.setResourceTimingBufferSize(100000)');
    const memory = await TabMemory.start(chrome.send, tab.send);
    let figures: TabMemoryFigures;
    try {
      await tab.evaluate(`document.getElementById('submit-button').click()`);
      await tab.waitFor(`!document.getElementById('tip-sent').hidden || !document.getElementById('form-error').hidden`, SEND_TIMEOUT_MS);
    } finally {
      figures = await memory.stop();
    }
    const failure = await tab.evaluate<string>(`document.getElementById('form-error').hidden ? '' : document.getElementById('form-error').textContent`);
    if (failure) throw new Error(`the page did not send the tip: ${failure}`);
    const timing = await tab.evaluate<{ name: string; start: number; end: number }[]>(
      `performance.getEntriesByType('resource').map((e) => ({ name: e.name, start: e.startTime, end: e.responseEnd }))`,
    );
    const path = (name: string) => new URL(name).pathname + new URL(name).search;
    const created = timing.find((e) => path(e.name) === '/api/v1/uploads');
    const puts = timing.filter((e) => path(e.name).includes('?offset='));
    if (!created || puts.length === 0) throw new Error('the page made no upload');
    const blobs = (await storedBlobs(dbFile, (b) => b.ids())).filter((b) => !blobsBefore.has(b));
    if (blobs.length !== 1) throw new Error(`expected one new blob on the server, found ${blobs.length}`);
    const blobBytes = await storedBlobs(dbFile, (b) => b.size(blobs[0]!));
    if (blobBytes < bytes) throw new Error(`the server holds ${blobBytes} bytes for a ${bytes}-byte file`);
    await storedBlobs(dbFile, (b) => b.delete(blobs[0]!));
    return {
      bytes,
      memory: figures,
      phaseSeconds: (Math.max(...puts.map((e) => e.end)) - created.end) / 1000,
      uploadSeconds: puts.reduce((s, e) => s + (e.end - e.start), 0) / 1000,
      chunks: puts.length,
      blobBytes,
    };
  } finally {
    await chrome.close();
  }
}

function mibPerSecond(bytes: number, seconds: number): number {
  return bytes / MiB / seconds;
}
