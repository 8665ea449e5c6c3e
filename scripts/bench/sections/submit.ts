/**
 * submit: how many 4 KiB browser-encrypted tips a second the real server takes
 * (`POST /api/v1/tips`: JSON, zod, base64, proof-of-work check and spend, the
 * packet and recipient check, the tip's transaction), with 50 connections for
 * 20 s, against a bare Hono route on the same server setup that only inserts
 * the body into a table with the same SQLite pragmas. Proofs of work are solved
 * beforehand (presolved-pow.ts). Both run as child processes, one at a time.
 */
import { join } from 'node:path';
import { base64, randomBytes } from '../../../crypto/bytes.ts';
import { makeBenchNewsroom } from '../bench-newsroom.ts';
import type { BenchContext } from '../context.ts';
import { runLoad, type LoadRequest, type LoadResult } from '../load.ts';
import { BENCH_POW_DIFFICULTY, floodDifficulty, presolvePow, type PowAnswer } from '../presolved-pow.ts';
import { higherIsBetter, notAvailable, round, type SectionResult } from '../result.ts';
import { sampleTipCiphertext } from '../sample-tip.ts';

const TARGET = '≥ 0.7× throughput, p99 ≤ 2× baseline';
const UNIT = 'tips/s';

export async function submitSection(ctx: BenchContext): Promise<SectionResult> {
  const s = ctx.sizes.submit;
  const keys = await ctx.keys();
  const newsroom = await makeBenchNewsroom(ctx.workDir, keys);
  const ciphertext = base64.encode(await sampleTipCiphertext(keys.publicKeys));
  const pool = s.maxTips + s.connections;
  const started = performance.now();
  const answers = await presolvePow({ dbFile: newsroom.dbFile, purpose: 'tip', count: pool, difficulty: (i) => floodDifficulty(Math.max(i + 1, 40 * s.connections) + 4 * s.connections) });
  ctx.log(`submit: solved ${pool} proofs of work in ${Math.round(performance.now() - started)} ms`);

  const load = { connections: s.connections, seconds: s.seconds, maxRequests: s.maxTips };
  const bare = await ctx.startServer(['bare-insert', join(newsroom.dataDir, 'bare.db')]);
  let baseline: LoadResult;
  try {
    baseline = await runLoad({ url: bare.url, ...load, next: tipRequests(answers, ciphertext) });
  } finally {
    await bare.stop();
  }
  ctx.log(`submit: baseline ${Math.round(baseline.perSecond)} tips/s`);
  const app = await ctx.startServer(['app', newsroom.dataDir, String(BENCH_POW_DIFFICULTY)]);
  let real: LoadResult;
  try {
    real = await runLoad({ url: app.url, ...load, next: tipRequests(answers, ciphertext) });
  } finally {
    await app.stop();
  }
  ctx.log(`submit: server ${Math.round(real.perSecond)} tips/s`);
  const details = {
    'p50 ms': `${round(real.p50Ms)} vs ${round(baseline.p50Ms)}`,
    'p99 ms': `${round(real.p99Ms)} vs ${round(baseline.p99Ms)}`,
    'p99 ÷ baseline p99': round(real.p99Ms / baseline.p99Ms),
    tips: `${real.ok} vs ${baseline.ok} in ${real.seconds} s vs ${baseline.seconds} s, ${s.connections} connections`,
    refused: real.failed + baseline.failed > 0 ? JSON.stringify({ server: real.failures, baseline: baseline.failures }) : 0,
  };
  if (real.ok === 0 || baseline.ok === 0) return notAvailable({ unit: UNIT, target: TARGET, details }, `no tip was accepted (${app.stderrTail().trim().slice(-300) || 'no server output'})`);
  return higherIsBetter({
    value: real.perSecond,
    baseline: baseline.perSecond,
    unit: UNIT,
    target: TARGET,
    minRatio: 0.7,
    alsoMeets: real.p99Ms <= 2 * baseline.p99Ms && real.failed === 0,
    details,
  });
}

/** Each request a first tip of a new conversation (its own lookup secret) with its own answer. */
export function tipRequests(answers: PowAnswer[], ciphertextBase64: string): () => LoadRequest {
  let i = 0;
  return () => {
    const pow = answers[i++ % answers.length]!;
    const body = JSON.stringify({ ciphertext: ciphertextBase64, lookupSecret: base64.encode(randomBytes(32)), pow });
    return { method: 'POST', path: '/api/v1/tips', headers: { 'content-type': 'application/json' }, body };
  };
}
