/**
 * scale: does the server slow down as tips pile up? At each level (10k, 100k,
 * 1M stored tips) it measures the submit p50 (as in the submit section, with
 * pre-solved proofs of work) and the journalist list-page p50 (one page of 200
 * from a random place in the list, with a bearer token), and the database's
 * bytes per stored tip. The baseline is the same at the first level.
 *
 * At the largest level it also times `tipline admin maintain` (VACUUM and a
 * TRUNCATE checkpoint, server/admin/maintain.ts) on the stopped server's
 * database: what the daily rebuild costs, and how long it holds the write lock.
 *
 * Tips are loaded directly into the database between levels (bulk-tips.ts),
 * with the server stopped. Levels that would not finish within the time left
 * (this section's budget, and the whole run's 10 minutes), judged from the
 * load rate measured so far, are reported as n/a with that reason rather than run.
 */
import { stat } from 'node:fs/promises';
import { base64 } from '../../../crypto/bytes.ts';
import { makeBenchNewsroom } from '../bench-newsroom.ts';
import { bulkInsertTips } from '../bulk-tips.ts';
import type { BenchContext } from '../context.ts';
import { runLoad, type LoadRequest, type LoadResult } from '../load.ts';
import { BENCH_POW_DIFFICULTY, floodDifficulty, presolvePow } from '../presolved-pow.ts';
import { lowerIsBetter, notAvailable, round, type Detail, type SectionResult } from '../result.ts';
import { sampleTipCiphertext } from '../sample-tip.ts';
import { tipRequests } from './submit.ts';
import { maintainDatabase } from '../../../server/admin/maintain.ts';
import { openDatabase } from '../../../server/db/open-database.ts';
import { RowBlobStore } from '../../../server/uploads/row-blob-store.ts';

const TARGET = '≤ 1.5× from 10k to 1M (submit and list p50)';
const UNIT = 'ms (submit p50)';
const PAGE = 200;
const MAX_GROWTH = 1.5;
const LOAD_MARGIN = 1.5;
/** Left at the end of the run for the sections after this one. */
const RESERVE_SECONDS = 20;

/** A p50 is null when no request of its kind was answered within the run. */
type Level = { tips: number; submitP50: number | null; listP50: number | null; bytesPerTip: number; loadSeconds: number };

export async function scaleSection(ctx: BenchContext): Promise<SectionResult> {
  const s = ctx.sizes.scale;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const keys = await ctx.keys();
  const newsroom = await makeBenchNewsroom(ctx.workDir, keys);
  const ciphertextBytes = await sampleTipCiphertext(keys.publicKeys);
  const ciphertext = base64.encode(ciphertextBytes);

  const levels: Level[] = [];
  const skipped: string[] = [];
  let stored = 0;
  let loadRate: number | undefined;
  let measureSeconds = 0;
  for (const target of s.levels) {
    const adding = target - stored;
    if (loadRate !== undefined) {
      // Loading slows as the database grows (measured: 1M loads at about 0.8× the rate of 100k), hence the margin.
      const needed = (adding / loadRate) * LOAD_MARGIN + measureSeconds;
      // This section's own budget, and what the whole run has left once jitless (last, quick) has run.
      const left = Math.min(s.budgetSeconds - elapsed(), (ctx.deadline - performance.now()) / 1000 - RESERVE_SECONDS);
      if (needed > left) {
        skipped.push(`${label(target)}: n/a, loading ${adding} more tips at the measured ${Math.round(loadRate)} tips/s and measuring would take about ${Math.round(needed)} s, over the ${Math.round(left)} s left of the time budget (10 minutes for the whole run) on this machine`);
        continue;
      }
    }
    const load = await bulkInsertTips(newsroom.dbFile, { count: adding, ciphertext: () => ciphertextBytes });
    loadRate = adding / load.seconds;
    stored += adding;
    const bytesPerTip = ((await fileSize(newsroom.dbFile)) + (await fileSize(`${newsroom.dbFile}-wal`))) / stored;
    ctx.log(`scale: loaded ${adding} tips in ${round(load.seconds)} s (${Math.round(loadRate)}/s); ${stored} stored`);

    const measuring = performance.now();
    const answers = await presolvePow({ dbFile: newsroom.dbFile, purpose: 'tip', count: s.maxRequests + s.connections, difficulty: (i) => floodDifficulty(Math.max(i + 1, 40 * s.connections) + 4 * s.connections) });
    const server = await ctx.startServer(['app', newsroom.dataDir, String(BENCH_POW_DIFFICULTY)]);
    try {
      const submit = await runLoad({ url: server.url, connections: s.connections, seconds: s.seconds, maxRequests: s.maxRequests, next: tipRequests(answers, ciphertext) });
      stored += submit.ok;
      // One connection: the p50 of a page is then its service time, not a queue.
      const list = await runLoad({ url: server.url, connections: 1, seconds: s.seconds, maxRequests: s.maxRequests, next: listRequests(load.cursors, newsroom.readerToken) });
      levels.push({ tips: target, submitP50: p50OrNull(submit), listP50: p50OrNull(list), bytesPerTip, loadSeconds: load.seconds });
      ctx.log(`scale: ${label(target)}: submit p50 ${round(submit.p50Ms)} ms (${submit.ok} tips in ${submit.seconds} s), list p50 ${round(list.p50Ms)} ms (${list.ok} pages)`);
    } finally {
      await server.stop();
    }
    measureSeconds = (performance.now() - measuring) / 1000;
  }

  const details: Record<string, Detail> = {};
  if (stored > 0) details[`maintain at ${label(stored)} tips`] = await timeMaintenance(newsroom.dbFile, stored, ctx.log);
  const ms = (p50: number | null) => (p50 === null ? `none answered within ${s.seconds} s` : `${round(p50)} ms`);
  for (const l of levels) {
    details[label(l.tips)] = `submit p50 ${ms(l.submitP50)}, list p50 ${ms(l.listP50)}, ${Math.round(l.bytesPerTip)} DB bytes/tip, loaded in ${round(l.loadSeconds)} s`;
  }
  skipped.forEach((reason, i) => (details[`skipped ${i + 1}`] = reason));
  const first = levels[0];
  const last = levels.at(-1);
  if (!first || !last || first.submitP50 === null || first.listP50 === null) return notAvailable({ unit: UNIT, target: TARGET, details }, 'the first level could not be measured');
  details['largest level measured'] = label(last.tips);
  if (last.submitP50 === null || last.listP50 === null) {
    // Slower than the whole run: the target is missed, by more than can be put in a figure.
    return { ...notAvailable({ unit: UNIT, target: TARGET, details }, `at ${label(last.tips)} tips a request took longer than the ${s.seconds} s run`), meets: false };
  }
  const listGrowth = last.listP50 / first.listP50;
  details['list p50 growth'] = `${round(listGrowth)}× (${round(last.listP50)} vs ${round(first.listP50)} ms)`;
  const reachedTop = last.tips === s.levels.at(-1);
  const submitGrowth = last.submitP50 / first.submitP50;
  return lowerIsBetter({
    value: last.submitP50,
    baseline: first.submitP50,
    unit: UNIT,
    target: TARGET,
    meets: reachedTop && submitGrowth <= MAX_GROWTH && listGrowth <= MAX_GROWTH,
    details,
  });
}

/** Runs the daily maintenance once on the loaded database and says what it took. */
async function timeMaintenance(dbFile: string, tips: number, log: (line: string) => void): Promise<string> {
  const before = await fileSize(dbFile);
  const db = await openDatabase(dbFile);
  try {
    const started = performance.now();
    await maintainDatabase(db, { blobs: new RowBlobStore(db), retentionDays: 0, unclaimedUploadMs: 24 * 60 * 60 * 1000 });
    const seconds = (performance.now() - started) / 1000;
    const line = `${round(seconds)} s for ${Math.round(before / 1024 / 1024)} MiB (VACUUM + TRUNCATE checkpoint; the write lock is held throughout), ${round((seconds / tips) * 1_000_000)} s per 1M tips at this rate`;
    log(`scale: maintain at ${tips} tips: ${line}`);
    return line;
  } finally {
    await db.destroy();
  }
}

function p50OrNull(result: LoadResult): number | null {
  return result.ok > 0 ? result.p50Ms : null;
}

/** A page of tips after a random cursor, as `tipline journalist fetch` asks for them. */
function listRequests(cursors: string[], token: string): () => LoadRequest {
  return () => {
    const cursor = cursors[Math.floor(Math.random() * cursors.length)]!;
    return { method: 'GET', path: `/api/v1/journalist/tips?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`, headers: { authorization: `Bearer ${token}` } };
  };
}

function label(tips: number): string {
  return tips >= 1_000_000 ? `${tips / 1_000_000}M` : tips >= 1000 ? `${tips / 1000}k` : String(tips);
}

async function fileSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}
