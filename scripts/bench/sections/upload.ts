/**
 * upload: how fast a large attachment arrives through the real upload protocol
 * (server/uploads/upload-api.ts: create with a proof of work, PUT chunks of the
 * browser's chunk size at their offsets, complete, which checks the packets),
 * and how much the server's resident memory grows meanwhile. The baseline is
 * plain `node` piping the same bytes from one socket straight into a file.
 * Both servers are child processes; their memory is watched from outside.
 */
import { open, rm, stat } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CHUNK_BYTES } from '../../../client/source/upload-attachment.ts';
import { makeBenchNewsroom } from '../bench-newsroom.ts';
import type { BenchContext } from '../context.ts';
import { BENCH_POW_DIFFICULTY, presolvePow, type PowAnswer } from '../presolved-pow.ts';
import { higherIsBetter, notAvailable, round, type SectionResult } from '../result.ts';
import { readCpuSeconds, RssSampler } from '../rss-sampler.ts';
import { writeSyntheticAttachment } from '../synthetic-attachment.ts';

const MiB = 1024 * 1024;
const RSS_LIMIT = 64 * MiB;
const TARGET = '≥ 0.6× throughput, RSS growth < 64 MiB';
const UNIT = 'MiB/s';

export async function uploadSection(ctx: BenchContext): Promise<SectionResult> {
  const keys = await ctx.keys();
  const newsroom = await makeBenchNewsroom(ctx.workDir, keys);
  const source = join(ctx.workDir, 'attachment.gpg');
  const copy = join(ctx.workDir, 'attachment-copy.gpg');
  try {
    const size = await writeSyntheticAttachment(source, ctx.sizes.upload.bytes, keys.publicKeys);
    const [pow] = await presolvePow({ dbFile: newsroom.dbFile, purpose: 'upload', count: 1, difficulty: BENCH_POW_DIFFICULTY, bytes: size });

    const pipe = await ctx.startServer(['socket-to-file', copy]);
    if (!RssSampler.available(pipe.pid)) {
      await pipe.stop();
      return notAvailable({ unit: UNIT, target: TARGET }, 'process memory can only be read on Linux (/proc)');
    }
    let baseline: Timed;
    try {
      baseline = await timed(pipe.pid, () => sendOverSocket(pipe.port, source));
    } finally {
      await pipe.stop();
    }
    if ((await stat(copy)).size !== size) throw new Error('the baseline did not write every byte');
    await rm(copy, { force: true });
    ctx.log(`upload: baseline ${Math.round(mibPerSecond(size, baseline.seconds))} MiB/s`);

    const app = await ctx.startServer(['app', newsroom.dataDir, String(BENCH_POW_DIFFICULTY)]);
    let real: Timed & { chunks: number };
    try {
      let chunks = 0;
      real = { ...(await timed(app.pid, async () => (chunks = await uploadInChunks(app.url, source, size, pow!)))), chunks };
    } finally {
      await app.stop();
    }
    ctx.log(`upload: server ${Math.round(mibPerSecond(size, real.seconds))} MiB/s`);
    return higherIsBetter({
      value: mibPerSecond(size, real.seconds),
      baseline: mibPerSecond(size, baseline.seconds),
      unit: UNIT,
      target: TARGET,
      minRatio: 0.6,
      alsoMeets: real.rssGrowth < RSS_LIMIT,
      details: {
        'RSS growth MiB': `${round(real.rssGrowth / MiB)} vs ${round(baseline.rssGrowth / MiB)}`,
        'peak RSS MiB': `${round(real.rssPeak / MiB)} vs ${round(baseline.rssPeak / MiB)}`,
        'server CPU s, user + system': `${round(real.cpu.user)} + ${round(real.cpu.system)} vs ${round(baseline.cpu.user)} + ${round(baseline.cpu.system)}`,
        size: `${round(size / MiB)} MiB in ${real.chunks} chunks of ${CHUNK_BYTES / MiB} MiB`,
      },
    });
  } finally {
    await rm(source, { force: true });
    await rm(copy, { force: true });
  }
}

type Timed = { seconds: number; rssGrowth: number; rssPeak: number; cpu: { user: number; system: number } };

async function timed(pid: number, work: () => Promise<unknown>): Promise<Timed> {
  const rss = RssSampler.start(pid);
  const cpuBefore = readCpuSeconds(pid);
  const started = performance.now();
  try {
    await work();
  } catch (e) {
    rss.stop();
    throw e;
  }
  const seconds = (performance.now() - started) / 1000;
  const memory = rss.stop();
  const cpuAfter = readCpuSeconds(pid);
  const cpu = cpuBefore && cpuAfter ? { user: cpuAfter.user - cpuBefore.user, system: cpuAfter.system - cpuBefore.system } : { user: NaN, system: NaN };
  return { seconds, rssGrowth: memory.growthBytes, rssPeak: memory.peakBytes, cpu };
}

function mibPerSecond(bytes: number, seconds: number): number {
  return bytes / MiB / seconds;
}

/**
 * The browser's protocol (client/source/upload-attachment.ts), one chunk in
 * flight at a time, chunks of the browser's size. Returns the chunk count.
 * The chunks go out through node:http on one kept-alive connection, a sender
 * as lean as the baseline's socket: with `fetch` (undici) the sending side
 * alone took about 10 ms a chunk here, which would count against the server.
 */
async function uploadInChunks(url: string, file: string, size: number, pow: PowAnswer): Promise<number> {
  const created = await fetch(`${url}/api/v1/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: size, pow }) });
  if (created.status !== 201) throw new Error(`upload refused: ${created.status} ${await created.text()}`);
  const { id, chunkBytes } = (await created.json()) as { id: string; chunkBytes: number };
  const chunkSize = Math.min(CHUNK_BYTES, chunkBytes);
  const input = await open(file, 'r');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const buffer = new Uint8Array(chunkSize);
  let offset = 0;
  let chunks = 0;
  try {
    while (offset < size) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(chunkSize, size - offset), offset);
      const res = await putChunk(`${url}/api/v1/uploads/${id}?offset=${offset}`, buffer.subarray(0, bytesRead), agent);
      if (res.status !== 200) throw new Error(`chunk at ${offset} refused: ${res.status} ${res.body}`);
      offset = (JSON.parse(res.body) as { received: number }).received;
      chunks++;
    }
  } finally {
    agent.destroy();
    await input.close();
  }
  const done = await fetch(`${url}/api/v1/uploads/${id}/complete`, { method: 'POST' });
  if (!done.ok) throw new Error(`complete refused: ${done.status} ${await done.text()}`);
  return chunks;
}

/** One PUT with a known length; resolves with the status and the body once the answer has arrived. */
function putChunk(url: string, body: Uint8Array, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Streams `file` into one connection and waits for the server's "done". */
async function sendOverSocket(port: number, file: string): Promise<void> {
  const input = await open(file, 'r');
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('end', () => (answer.startsWith('done') ? resolve() : reject(new Error('the baseline server did not finish'))));
      socket.on('error', reject);
      socket.on('connect', () => input.createReadStream({ autoClose: false, highWaterMark: 1024 * 1024 }).pipe(socket));
    });
  } finally {
    await input.close();
  }
}
