/**
 * The forensic examiner: a real `tipline serve` (SQLite) takes tips,
 * follow-ups and attachments spread over about a minute, a journalist deletes
 * some, the server stops and `tipline admin maintain` runs. Then the examiner
 * reads what a seizure yields: every row of every table, the raw bytes of the
 * database, its WAL and shared memory, the file times of everything in the
 * data directory, and everything the server printed (which journald or
 * Docker would have timestamped). They must find no time of day inside the
 * window when sources acted, and the physical order of the tips in the file
 * must not follow their arrival (Spearman rank correlation < 0.3).
 *
 * Spent proof-of-work challenges count too: they keep a UTC day, not their
 * expiry to the second (issue 17, migration 0011).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import * as openpgp from 'openpgp';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { solveChallenge, type PowPurpose } from '../crypto/proof-of-work.ts';
import { encodeTipDocument, type AttachmentRef } from '../crypto/tip-document.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

const TIPS = 120;
const FOLLOWUPS = 12;
const ATTACHMENTS = 6;
const DELETED = 15;
/** The sources' actions are spread over about this long (ms), so times to the second would show. */
const SPREAD_MS = 50_000;

let newsroom: TestNewsroom;
let ana: TestJournalist;
let server: ServerProcess;
let keys: openpgp.PublicKey[];
/** Tips still stored at the end, in arrival order, with the tail of their ciphertext to find them in the file. */
const arrived: { id: string; tail: Buffer }[] = [];
let windowStart = 0;
let windowEnd = 0;
let maintainStart = 0;
let rhoBefore = 0;
let maintainOutput = '';
let deletions = 0;
/** Proofs of work the server accepted (every submission below must succeed). */
let powsSpent = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const post = (body: unknown, cookie?: string) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });

async function pow(purpose: PowPurpose): Promise<{ challenge: string; nonce: string }> {
  const { challenge } = (await (await fetch(`${server.url}/api/v1/challenge`, post({ purpose }))).json()) as { challenge: string };
  powsSpent++;
  return { challenge, nonce: await solveChallenge(challenge) };
}

async function upload(): Promise<{ ref: AttachmentRef }> {
  const plaintext = randomBytes(20_000 + Math.floor(Math.random() * 50_000));
  const ciphertext = new Uint8Array(await new Response(await encryptFileStream(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), keys)).arrayBuffer());
  const created = await fetch(`${server.url}/api/v1/uploads`, post({ bytes: ciphertext.length, pow: await pow('upload') }));
  expect(created.status).toBe(201);
  const { id } = (await created.json()) as { id: string };
  const put = await fetch(`${server.url}/api/v1/uploads/${id}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: ciphertext });
  expect(put.status).toBe(200);
  expect((await fetch(`${server.url}/api/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(200);
  return { ref: { blobId: id, name: 'photo.bin', type: 'application/octet-stream', size: plaintext.length, sha256: '0'.repeat(64) } };
}

/** Pearson on ranks; the values are distinct (file offsets, arrival indexes). */
function spearman(xs: number[], ys: number[]): number {
  const rank = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    order.forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  const n = xs.length;
  const mean = (n - 1) / 2;
  let num = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    num += (rx[i]! - mean) * (ry[i]! - mean);
    dx += (rx[i]! - mean) ** 2;
    dy += (ry[i]! - mean) ** 2;
  }
  return num / Math.sqrt(dx * dy);
}

/** Where each stored tip's ciphertext tail sits in the database file, against its arrival rank. */
async function pageOrderCorrelation(): Promise<number> {
  const file = await readFile(join(newsroom.dataDir, 'tipline.db'));
  const offsets = arrived.map((t) => file.indexOf(t.tail));
  expect(offsets.every((o) => o >= 0)).toBe(true);
  return spearman(offsets, arrived.map((_, i) => i));
}

async function entries(dir: string): Promise<string[]> {
  const out = [dir];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(join(e.parentPath, e.name));
  return out;
}

/** True when `ms` (a time) falls while sources acted, or within a challenge's life after. */
const inWindow = (ms: number) => ms >= windowStart - 1000 && ms <= windowEnd + 700_000;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  // A real proof of work (small, so the test is quick): spent challenges are part of what is stored.
  server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '2' });
  const signed = (await (await fetch(`${server.url}/api/v1/manifest`)).json()) as SignedManifest;
  keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
  await sleep(1500); // set-up times (init, migrations) fall before the window
  windowStart = Date.now();

  const secrets: Uint8Array[] = [];
  const all: { id: string; tail: Buffer }[] = [];
  for (let i = 0; i < TIPS; i++) {
    const attachments = i % Math.floor(TIPS / ATTACHMENTS) === 3 ? [await upload()] : [];
    const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: `tip ${i} ${'x'.repeat(Math.floor(Math.random() * 3000))}`, fields: {}, attachments: attachments.map((a) => a.ref) })), keys);
    const secret = randomBytes(32);
    const res = await fetch(`${server.url}/api/v1/tips`, post({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(secret), attachments: attachments.map((a) => a.ref.blobId), pow: await pow('tip') }));
    expect(res.status).toBe(201);
    const { receipt } = (await res.json()) as { receipt: string };
    all.push({ id: receipt, tail: Buffer.from(ciphertext.subarray(ciphertext.length - 32)) });
    secrets.push(secret);
    // A follow-up from an earlier source now and then, after a login.
    if (i % Math.floor(TIPS / FOLLOWUPS) === 5) {
      const login = await fetch(`${server.url}/api/v1/source/login`, post({ lookupSecret: base64.encode(secrets[Math.floor(Math.random() * secrets.length)]!) }));
      expect(login.status).toBe(200);
      const cookie = `tl_session=${/tl_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]}`;
      const body = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'followup', message: `more ${i}`, fields: {} })), keys);
      const f = await fetch(`${server.url}/api/v1/source/followups`, post({ ciphertext: base64.encode(body), pow: await pow('followup') }, cookie));
      expect(f.status).toBe(201);
      const { receipt: followId } = (await f.json()) as { receipt: string };
      all.push({ id: followId, tail: Buffer.from(body.subarray(body.length - 32)) });
    }
    // A journalist deletes one now and then (freed pages are reused by later tips).
    if (i % Math.floor(TIPS / DELETED) === 7) {
      const victim = all.splice(Math.floor(Math.random() * all.length), 1)[0]!;
      const del = await fetch(`${server.url}/api/v1/journalist/tips/${victim.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ana.token}` } });
      expect(del.status).toBe(200);
      deletions++;
    }
    await sleep(Math.random() * ((2 * SPREAD_MS) / TIPS));
  }
  windowEnd = Date.now();
  arrived.push(...all);
  await server.stop();

  // Before maintenance the probe must see arrival order (else it proves nothing after).
  rhoBefore = await pageOrderCorrelation();
  await sleep(1500);
  maintainStart = Date.now();
  const r = await runCli(['admin', 'maintain', '--data', newsroom.dataDir]);
  maintainOutput = r.stdout + r.stderr;
  expect(r.code, maintainOutput).toBe(0);
}, 300_000);

afterAll(async () => {
  await server?.stop();
  await newsroom?.cleanup();
});

describe('an examiner with the seized data directory and the server log', () => {
  it('sees arrival order in the page layout before maintenance, and none after it (Spearman < 0.3)', async () => {
    expect(rhoBefore).toBeGreaterThan(0.5);
    const rhoAfter = await pageOrderCorrelation();
    console.log(`page order vs arrival, ${arrived.length} tips: Spearman ${rhoBefore.toFixed(3)} before maintain, ${rhoAfter.toFixed(3)} after`);
    expect(rhoAfter).toBeLessThan(0.3);
    expect(maintainOutput).toMatch(/^Maintenance done: .*database rebuilt and WAL emptied\.$/m);
  });

  it('finds the WAL empty after maintenance', async () => {
    const wal = await stat(join(newsroom.dataDir, 'tipline.db-wal')).catch(() => undefined);
    expect(wal?.size ?? 0).toBe(0);
  });

  it('finds no time inside the window in any row of any table', () => {
    const db = new BetterSqlite3(join(newsroom.dataDir, 'tipline.db'), { readonly: true });
    const found: string[] = [];
    try {
      const tables = (db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['tips', 'threads', 'uploads', 'blobs', 'blob_chunks', 'spent_challenges']));
      for (const table of tables) {
        for (const row of db.prepare(`select * from "${table}"`).all() as Record<string, unknown>[]) {
          for (const [column, value] of Object.entries(row)) {
            const n = typeof value === 'number' || typeof value === 'bigint' ? Number(value) : typeof value === 'string' && /^\d{10,13}$/.test(value) ? Number(value) : NaN;
            const asTime = typeof value === 'string' && /\d{2}:\d{2}/.test(value) ? Date.parse(value) : NaN;
            if (inWindow(n * 1000) || inWindow(n) || inWindow(asTime)) found.push(`${table}.${column} = ${String(value)}`);
          }
        }
      }
      // And the sanity check that the scan sees what is there: the tips are stored, with today's day.
      expect((db.prepare('select count(*) as n from tips').get() as { n: number }).n).toBe(arrived.length);
    } finally {
      db.close();
    }
    expect(found).toEqual([]);
  });

  it('finds no time in spent_challenges: each row is a random id and a UTC day (issue 17)', () => {
    const db = new BetterSqlite3(join(newsroom.dataDir, 'tipline.db'), { readonly: true });
    try {
      const rows = db.prepare('select * from spent_challenges').all() as Record<string, unknown>[];
      // Every proof of work spent today is still there (it guards against replay until its day is over), so the check below sees real rows;
      // only a run across UTC midnight may have lost yesterday's to maintain's sweep.
      if (utcDay(new Date(windowStart)) === utcDay()) expect(rows.length).toBe(powsSpent);
      else expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(Object.keys(row).sort()).toEqual(['day', 'id']);
        expect(row.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        for (const value of Object.values(row)) if (typeof value === 'number') expect(inWindow(value * 1000) || inWindow(value)).toBe(false);
      }
    } finally {
      db.close();
    }
  });

  it('finds no written time of the window in the raw bytes of the database, WAL or shared memory', async () => {
    // Unix seconds (or the first 10 digits of milliseconds) as text, for every second of the window.
    const seconds: Buffer[] = [];
    for (let s = Math.floor((windowStart - 1000) / 1000); s <= Math.ceil(windowEnd / 1000); s++) seconds.push(Buffer.from(String(s)));
    // Any ISO-like date and time (set-up rows such as Kysely's migration times fall before the window, and are allowed).
    const isoTime = /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?/g;
    const found: string[] = [];
    let isoSeen = 0;
    for (const path of await entries(newsroom.dataDir)) {
      if (!(await stat(path)).isFile()) continue;
      const bytes = await readFile(path);
      for (const n of seconds) if (bytes.includes(n)) found.push(`${path}: ${n.toString()}`);
      for (const m of bytes.toString('latin1').matchAll(isoTime)) {
        isoSeen++;
        const at = Date.parse(`${m[0].replace(' ', 'T')}Z`);
        // Minute precision covers the whole minute.
        const end = m[1] ? at : at + 59_999;
        if (end >= windowStart - 1000 && at <= windowEnd) found.push(`${path}: ${m[0]}`);
      }
    }
    expect(isoSeen).toBeGreaterThan(0); // the scan does read text: the migration times of set-up are there
    expect(found).toEqual([]);
  });

  it('finds no file whose birth, change, modification or access time falls while sources acted, and no file per upload', async () => {
    const paths = await entries(newsroom.dataDir);
    const timed: string[] = [];
    for (const path of paths) {
      const s = await stat(path);
      for (const [what, ms] of [['birth', s.birthtimeMs], ['change', s.ctimeMs], ['modification', s.mtimeMs], ['access', s.atimeMs]] as const) {
        if (ms >= windowStart - 1000 && ms < maintainStart) timed.push(`${path}: ${what} time ${new Date(ms).toISOString()}`);
      }
    }
    expect(timed).toEqual([]);
    // The same few files however many uploads came: nothing is created per upload.
    const names = paths.map((p) => p.slice(newsroom.dataDir.length)).filter(Boolean).sort();
    expect(names.every((n) => /^\/(config\.json|tipline\.db(-wal|-shm)?|blobs)$/.test(n)), names.join(', ')).toBe(true);
  });

  it('finds nothing in the server output about a source request: no line to timestamp', () => {
    const lines = server.output().split('\n').filter(Boolean);
    const sourceLines = lines.filter((l) => /\/api\/v1\/(tips|uploads|source|challenge|manifest)|\/(submit|login|inbox)\b|^(GET|POST|PUT) \//.test(l) && !/^(GET|POST|PUT|DELETE) \/api\/v1\/journalist\//.test(l));
    expect(sourceLines).toEqual([]);
    // What is there: the start-up line and the journalist's deletions (route pattern and status only).
    for (const l of lines) expect(l).toMatch(/^tipline is listening on |^DELETE \/api\/v1\/journalist\/tips\/:id 200$/);
    expect(lines.filter((l) => l.startsWith('DELETE'))).toHaveLength(deletions);
  });
});
