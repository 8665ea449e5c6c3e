/**
 * The attacker's-eye view of a seized server: plant unique markers everywhere a
 * client could leak who it is (client-IP headers, user agent, query string,
 * Accept-Language, Referer), then scan every byte the server wrote (database,
 * WAL, shared memory, config) and everything it logged. None may appear. The
 * plaintext of a no-JavaScript tip must not appear either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { base64, randomBytes, randomId } from '../crypto/bytes.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

const marker = (what: string) => `MARK${what}${randomId().replace(/[-_]/g, 'x')}`;
const MARKERS = {
  ip: marker('ip'),
  ua: marker('ua'),
  query: marker('query'),
  lang: marker('lang'),
  referer: marker('ref'),
};
const IP = `203.0.113.${Math.floor(Math.random() * 200) + 20}`;
const PLAINTEXT = `no-js plaintext ${marker('plain')}`;

let newsroom: TestNewsroom;
let journalist: TestJournalist;
let server: ServerProcess;

/** Every file under the data directory, read whole. */
async function dataFiles(dir: string): Promise<{ name: string; bytes: Buffer }[]> {
  const out: { name: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if ((await stat(full)).isFile()) out.push({ name: full, bytes: await readFile(full) });
  }
  return out;
}

function findIn(files: { name: string; bytes: Buffer }[], needle: string): string[] {
  // Look for UTF-8 and UTF-16LE, the two encodings SQLite could use.
  const forms = [Buffer.from(needle, 'utf8'), Buffer.from(needle, 'utf16le')];
  return files.filter((f) => forms.some((n) => f.bytes.includes(n))).map((f) => f.name);
}

beforeAll(async () => {
  newsroom = await makeNewsroom();
  journalist = await addTestJournalist(newsroom, 'Ana');
  // The proof of work is off here: this file is about what a seized server holds, not spam.
  // So is the no-JavaScript form's wait; its token is still fetched with the form and spent with the tip.
  server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0'], { TIPLINE_POW_DIFFICULTY: '0' });
  const headers = {
    'x-forwarded-for': `${IP}, ${MARKERS.ip}`,
    'x-real-ip': IP,
    forwarded: `for=${IP};by=${MARKERS.ip}`,
    'user-agent': `Mozilla/5.0 ${MARKERS.ua}`,
    'accept-language': `${MARKERS.lang}, en;q=0.5`,
    referer: `http://example.org/${MARKERS.referer}`,
  };
  const q = `?lang=${MARKERS.query}&x=${MARKERS.query}`;

  // Pages, a browser-encrypted tip, a no-JavaScript tip, a 404 and a refused tip, all carrying the markers.
  await fetch(`${server.url}/${q}`, { headers });
  await fetch(`${server.url}/submit${q}`, { headers });
  const signed = (await (await fetch(`${server.url}/api/v1/manifest${q}`, { headers })).json()) as SignedManifest;
  const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
  const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'browser tip', fields: {} })), keys);
  const tip = await fetch(`${server.url}/api/v1/tips${q}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)) }),
  });
  expect(tip.status).toBe(201);
  const form = await noJsPoster((p, init) => fetch(`${server.url}${p}`, init))(`/submit${q}`, `message=${encodeURIComponent(PLAINTEXT)}`, headers);
  expect(form.status).toBe(201);
  expect((await fetch(`${server.url}/nothing/${MARKERS.query}${q}`, { headers })).status).toBe(404);
  const refused = await fetch(`${server.url}/api/v1/tips${q}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ ciphertext: base64.encode(new TextEncoder().encode(MARKERS.query)), lookupSecret: base64.encode(randomBytes(32)) }),
  });
  expect(refused.status).toBe(422);
  const list = await fetch(`${server.url}/api/v1/journalist/tips${q}`, { headers: { ...headers, authorization: `Bearer ${journalist.token}` } });
  expect(((await list.json()) as { tips: unknown[] }).tips).toHaveLength(2);
  await server.stop();
});

afterAll(async () => {
  await server?.stop();
  await newsroom?.cleanup();
});

describe('a seized server', () => {
  it('logged no source request, and a journalist one as route pattern and status only', () => {
    const lines = server.output().split('\n').filter((l) => /^(GET|POST|PUT|DELETE) /.test(l));
    // Only the journalist's list of tips: the pages, the tips, the 404 and the refused tip printed nothing.
    expect(lines).toEqual(['GET /api/v1/journalist/tips 200']);
  });

  for (const [what, value] of Object.entries({ ...MARKERS, 'client IP': IP })) {
    it(`holds no trace of the ${what} in its files or logs`, async () => {
      const files = await dataFiles(newsroom.dataDir);
      expect(files.some((f) => f.name.endsWith('tipline.db'))).toBe(true);
      expect(findIn(files, value)).toEqual([]);
      expect(server.output()).not.toContain(value);
    });
  }

  it('holds no plaintext of the tip the server encrypted for a source without JavaScript', async () => {
    const files = await dataFiles(newsroom.dataDir);
    expect(findIn(files, PLAINTEXT)).toEqual([]);
    expect(findIn(files, 'no-js plaintext')).toEqual([]);
    expect(server.output()).not.toContain('no-js plaintext');
  });

  it('stores the day a tip arrived, never a time', async () => {
    const files = await dataFiles(newsroom.dataDir);
    const db = files.find((f) => f.name.endsWith('tipline.db'))!.bytes.toString('latin1');
    const today = new Date().toISOString().slice(0, 10);
    expect(db).toContain(today);
    // An ISO timestamp of today would betray the time of day; admin rows (journalists, audit) may have one, tips may not.
    const { default: Database } = await import('better-sqlite3');
    const sqlite = new Database(join(newsroom.dataDir, 'tipline.db'), { readonly: true });
    try {
      const columns = sqlite.prepare("select name from pragma_table_info('tips')").all() as { name: string }[];
      // ciphertext_bytes is the stored ciphertext's own length (kept for the list's covering index): it says nothing the ciphertext doesn't.
      expect(columns.map((c) => c.name).sort()).toEqual(['ciphertext', 'ciphertext_bytes', 'desk', 'id', 'kind', 'manifest_version', 'received_day', 'seq', 'size_bucket', 'thread_id', 'via']);
      const mismatched = sqlite.prepare('select count(*) as n from tips where ciphertext_bytes != length(ciphertext)').get() as { n: number };
      expect(mismatched.n).toBe(0);
      const days = sqlite.prepare('select received_day from tips').all() as { received_day: string }[];
      for (const d of days) expect(d.received_day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      // Conversations: a day, a counter, and ciphertext; and the day an admin held it, if one did. Nothing else about the source.
      const threadColumns = sqlite.prepare("select name from pragma_table_info('threads')").all() as { name: string }[];
      expect(threadColumns.map((c) => c.name).sort()).toEqual(['created_day', 'desk', 'held_day', 'id', 'next_seq']);
      const heldDays = sqlite.prepare('select held_day from threads where held_day is not null').all() as { held_day: string }[];
      for (const d of heldDays) expect(d.held_day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const replyColumns = sqlite.prepare("select name from pragma_table_info('replies')").all() as { name: string }[];
      expect(replyColumns.map((c) => c.name).sort()).toEqual(['box', 'copy', 'created_day', 'id', 'seq', 'thread_id']);
      // The no-JavaScript form's spent token: its random id and the day it was spent (never the time it was issued, which only the token holds).
      const tokenColumns = sqlite.prepare("select name from pragma_table_info('spent_form_tokens')").all() as { name: string }[];
      expect(tokenColumns.map((c) => c.name).sort()).toEqual(['day', 'id']);
      const spent = sqlite.prepare('select id, day from spent_form_tokens').all() as { id: string; day: string }[];
      expect(spent).toHaveLength(1);
      expect(spent[0]!.day).toBe(today);
      expect(spent[0]!.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      // The no-JavaScript budgets' refusals: a day, a budget and a count (none were refused here).
      const refusalColumns = sqlite.prepare("select name from pragma_table_info('no_js_refusals')").all() as { name: string }[];
      expect(refusalColumns.map((c) => c.name).sort()).toEqual(['day', 'kind', 'refused']);
    } finally {
      sqlite.close();
    }
  });
});

describe('a deleted tip', () => {
  it('is gone from the database file and the WAL, not just unlinked', async () => {
    const { openTestApp } = await import('./helpers/newsroom.ts');
    const t = await openTestApp(newsroom);
    try {
      const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
      const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
      const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'to be deleted', fields: {} })), keys);
      const res = await t.app.request('/api/v1/tips', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)) }),
      });
      const { receipt } = (await res.json()) as { receipt: string };
      // A slice from the middle of the encrypted data: unique to this tip.
      const slice = Buffer.from(ciphertext.subarray(ciphertext.length - 200, ciphertext.length - 100));
      expect((await dataFiles(newsroom.dataDir)).some((f) => f.bytes.includes(slice))).toBe(true);
      const del = await t.app.request(`/api/v1/journalist/tips/${receipt}`, { method: 'DELETE', headers: { authorization: `Bearer ${journalist.token}` } });
      expect(del.status).toBe(200);
      const after = await dataFiles(newsroom.dataDir);
      expect(after.filter((f) => f.bytes.includes(slice)).map((f) => f.name)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
