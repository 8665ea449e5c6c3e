/**
 * Decompression bombs the way a hostile source would send them: through the
 * real API, to the desk's real keys, then fetched and decrypted with the real
 * `tipline journalist fetch` and `decrypt` processes.
 *
 * The server can't see inside the encryption, so it stores both bombs: a tip
 * whose message is 256 MiB of zeros squeezed into a few hundred kilobytes by
 * zlib, and an attachment that does the same under a tip declaring a 1000-byte
 * file. `decrypt` must refuse each with a line naming the message, keep
 * nothing of them, still decrypt the honest tips around them, and stay in
 * flat memory (the peak RSS of the decrypt process is read from /proc).
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey, type PublicKey } from '../crypto/envelope.ts';
import { verifyManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { readDataDir } from '../server/data-dir.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, TIPLINE_BIN, type ServerProcess } from './helpers/server-process.ts';

const BOMB_BYTES = 256 * 1024 * 1024;
/** Node, openpgp.js and two honest tips fit well under this; inflating one bomb would not. */
const PEAK_RSS_LIMIT_MIB = 200;

let newsroom: TestNewsroom;
let testApp: TestApp;
let journalist: TestJournalist;
let server: ServerProcess;
let recipients: PublicKey[];
const ids = { honestBefore: '', tipBomb: '', attachmentBomb: '', honestAfter: '' };
let bombSizes = { tip: 0, attachment: 0 };

/** What the attacker makes: zeros, zlib-compressed inside an otherwise ordinary SEIPD message to the desk's keys. */
async function compressedMessage(plaintext: Uint8Array): Promise<Uint8Array> {
  return (await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: plaintext, format: 'binary' }),
    encryptionKeys: recipients as openpgp.PublicKey[],
    format: 'binary',
    config: { aeadProtect: false, preferredCompressionAlgorithm: openpgp.enums.compression.zlib },
  })) as Uint8Array;
}

async function postJson(path: string, body: unknown): Promise<Response> {
  return testApp.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function sendTip(ciphertext: Uint8Array, attachments: string[] = []): Promise<string> {
  const res = await postJson('/api/v1/tips', { ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)), attachments });
  expect(res.status, await res.clone().text()).toBe(201);
  // The id the journalists see is the newest listed tip.
  const list = await testApp.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${journalist.token}` } });
  const { tips } = (await list.json()) as { tips: { id: string }[] };
  const known = new Set(Object.values(ids));
  const fresh = tips.map((t) => t.id).filter((id) => !known.has(id));
  expect(fresh).toHaveLength(1);
  return fresh[0]!;
}

const honestTip = async (message: string) => encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message, fields: {} })), recipients);

/** Runs the CLI and samples the child's peak resident set (VmHWM) until it exits. */
function runMeasured(args: string[]): Promise<{ code: number; stdout: string; stderr: string; peakMiB: number; seconds: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [TIPLINE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakKiB = 0;
    const sample = async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    };
    const timer = setInterval(() => void sample(), 20);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ code: code ?? -1, stdout, stderr, peakMiB: peakKiB / 1024, seconds: (Date.now() - started) / 1000 });
    });
  });
}

async function allFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, size: (await stat(path)).size });
  }
  return out;
}

beforeAll(async () => {
  newsroom = await makeNewsroom();
  journalist = await addTestJournalist(newsroom, 'Ana');
  testApp = await openTestApp(newsroom);
  const dir = await readDataDir(newsroom.dataDir);
  const manifest = verifyManifest(await (await testApp.app.request('/api/v1/manifest')).json(), dir.newsroomPublicKey, { today: utcDay() });
  recipients = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));

  ids.honestBefore = await sendTip(await honestTip('The first honest tip.'));

  const tipBomb = await compressedMessage(new Uint8Array(BOMB_BYTES));
  bombSizes.tip = tipBomb.length;
  ids.tipBomb = await sendTip(tipBomb);

  // The attachment bomb is uploaded like any file; its tip is honest about everything but the file.
  const fileBomb = await compressedMessage(new Uint8Array(BOMB_BYTES));
  bombSizes.attachment = fileBomb.length;
  const created = await postJson('/api/v1/uploads', { bytes: fileBomb.length });
  expect(created.status).toBe(201);
  const blobId = ((await created.json()) as { id: string }).id;
  const put = await testApp.app.request(`/api/v1/uploads/${blobId}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(fileBomb) });
  expect(put.status).toBe(200);
  expect((await testApp.app.request(`/api/v1/uploads/${blobId}/complete`, { method: 'POST' })).status).toBe(200);
  const doc = encodeTipDocument({
    type: 'tip',
    message: 'The spreadsheet is attached.',
    fields: {},
    attachments: [{ blobId, name: 'ledger.xlsx', type: '', size: 1000, sha256: '0'.repeat(64) }],
  });
  ids.attachmentBomb = await sendTip(await encryptToKeys(padToBucket(doc), recipients), [blobId]);

  ids.honestAfter = await sendTip(await honestTip('The second honest tip.'));
  server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await testApp?.close();
  await newsroom?.cleanup();
});

describe('decompression bombs through the real API and the real CLI', () => {
  it('the attacker sends kilobytes, and the server stores them', () => {
    expect(bombSizes.tip).toBeLessThan(1024 * 1024);
    expect(bombSizes.attachment).toBeLessThan(1024 * 1024);
  });

  it('decrypt refuses both bombs by name, keeps nothing of them, decrypts the honest tips, in flat memory', async () => {
    const tokenFile = join(newsroom.root, 'token');
    const keyFile = join(newsroom.root, 'secret.asc');
    const inbox = join(newsroom.root, 'inbox');
    const out = join(newsroom.root, 'read');
    await writeFile(tokenFile, `${journalist.token}\n`, { mode: 0o600 });
    await writeFile(keyFile, journalist.armoredPrivateKey, { mode: 0o600 });

    const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', inbox]);
    expect(fetched, fetched.stderr).toMatchObject({ code: 0 });
    expect(fetched.stdout).toContain('4 new tip(s) fetched');

    const run = await runMeasured(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
    console.log(`[bomb-e2e] decrypt of 2 honest tips and 2 bombs (${bombSizes.tip} and ${bombSizes.attachment} bytes, ${BOMB_BYTES / 1048576} MiB inside each): exit ${run.code} in ${run.seconds.toFixed(2)} s, peak RSS ${run.peakMiB.toFixed(0)} MiB`);
    const said = run.stdout + run.stderr;
    // Non-zero: the journalist must not miss that two messages were refused.
    expect(run.code).not.toBe(0);
    expect(said).toContain('2 message(s) decrypted');
    expect(said).toContain('2 failed');
    const line = (id: string) => said.split('\n').find((l) => l.includes(`could not decrypt ${id}`)) ?? '';
    expect(line(ids.tipBomb)).toMatch(/compressed packet.*refused unopened.*report/);
    expect(line(ids.attachmentBomb)).toMatch(/ledger\.xlsx.*compressed packet.*report/);
    expect(line(ids.honestBefore)).toBe('');
    expect(line(ids.honestAfter)).toBe('');
    expect(said).not.toMatch(/^\s+at /m);

    // Memory stayed flat: a quarter of a bomb would be past the limit.
    expect(run.peakMiB).toBeGreaterThan(0);
    expect(run.peakMiB).toBeLessThan(PEAK_RSS_LIMIT_MIB);

    // Nothing of the bombs was written: only the honest tips' small files are there, and no partial folder.
    const written = await allFiles(out);
    expect(written.filter((f) => f.size > 64 * 1024)).toEqual([]);
    expect(written.map((f) => f.path).filter((p) => p.includes(ids.tipBomb) || p.includes(ids.attachmentBomb) || p.includes('.partial'))).toEqual([]);
    const messages = await Promise.all(written.filter((f) => f.path.endsWith('message.txt')).map((f) => readFile(f.path, 'utf8')));
    expect(messages.sort()).toEqual(['The first honest tip.', 'The second honest tip.']);

    // Running it again refuses again, the same way, and doesn't touch what was decrypted.
    const again = await runMeasured(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toContain('2 already decrypted; 2 failed');
    expect(again.peakMiB).toBeLessThan(PEAK_RSS_LIMIT_MIB);
  }, 120_000);
});
