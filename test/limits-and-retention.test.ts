/**
 * Limits and retention: the no-JavaScript budget, the follow-up quota, token
 * guessing, deleting old tips for good, and slow clients cut off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { TokenBucket } from '../server/abuse/token-bucket.ts';
import { startServer } from '../server/cli/serve.ts';
import { purgeExpired } from '../server/retention.ts';
import { TipStore } from '../server/store/tip-store.ts';
import { addTestJournalist, makeNewsroom, ON_POSTGRES, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
});
afterAll(async () => newsroom.cleanup());

/** A no-JavaScript post of `message` to `path`, with the token of the form's page (helpers/no-js-form.ts). */
const form = (t: TestApp, path: string, message: string, cookie?: string) => noJsPoster((p, init) => t.app.request(p, init))(path, `message=${encodeURIComponent(message)}`, cookie ? { cookie } : {});
const json = (body: unknown, cookie?: string) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });

describe('no-JavaScript budget', () => {
  it('refills over time and never goes above its size', () => {
    let now = 0;
    const bucket = new TokenBucket({ capacity: 2, refillPerMinute: 1 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    now += 60_000;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 10 * 60_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });

  it('says "busy, try again in a few minutes" over the budget, and keeps what was accepted', async () => {
    const t = await openTestApp(newsroom, { limits: { noJsBurst: 2, noJsPerMinute: 0 } });
    try {
      const before = (await t.db.selectFrom('tips').select('id').execute()).length;
      expect((await form(t, '/submit', 'one')).status).toBe(201);
      expect((await form(t, '/submit', 'two')).status).toBe(201);
      const third = await form(t, '/submit', 'three');
      expect(third.status).toBe(429);
      expect(await third.text()).toContain('Please try again in a few minutes');
      expect((await t.db.selectFrom('tips').select('id').execute()).length).toBe(before + 2);
      // The browser path has its own guard (proof of work) and is not blocked by this budget.
      expect((await t.app.request('/api/v1/manifest')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('follow-ups per conversation per day', () => {
  it('are limited with a clear 429', async () => {
    const t = await openTestApp(newsroom, { limits: { maxFollowupsPerThreadPerDay: 2 } });
    try {
      const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
      const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
      const enc = async (type: 'tip' | 'followup') => base64.encode(await encryptToKeys(padToBucket(encodeTipDocument({ type, message: type, fields: {} })), keys));
      const k = deriveCodenameKeys(parseCodename(generateCodename()).entropy);
      expect((await t.app.request('/api/v1/tips', json({ ciphertext: await enc('tip'), lookupSecret: base64.encode(k.lookupSecret) }))).status).toBe(201);
      const login = await t.app.request('/api/v1/source/login', json({ lookupSecret: base64.encode(k.lookupSecret) }));
      const cookie = `tl_session=${/tl_session=([^;]+)/.exec(login.headers.get('set-cookie')!)![1]}`;
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await t.app.request('/api/v1/source/followups', json({ ciphertext: await enc('followup') }, cookie))).status);
      expect(statuses).toEqual([201, 201, 429]);
      const noJs = await form(t, '/inbox/reply', 'more', cookie);
      expect(noJs.status).toBe(429);
    } finally {
      await t.close();
    }
  });
});

describe('journalist token guessing', () => {
  it('answers 429 to wrong secrets for a token id after repeated failures, but still serves its right secret and others', async () => {
    const t = await openTestApp(newsroom);
    try {
      const id = ana.token.slice(3, 25); // tl_<22-char id>_<secret>; the id itself may contain '_'
      const guess = `tl_${id}_${base64.encode(randomBytes(32)).replace(/[+/=]/g, 'A').slice(0, 43)}`;
      const statuses = [];
      for (let i = 0; i < 12; i++) statuses.push((await t.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${guess}` } })).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual([429, 429]);
      // The right secret is checked first and served: a flooder must not lock the journalist out (issue 17).
      expect((await t.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${ana.token}` } })).status).toBe(200);
      const bo = await addTestJournalist(newsroom, 'Bo');
      expect((await t.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${bo.token}` } })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('retention', () => {
  it('deletes old tips, replies and conversations for good, WAL included, and keeps new ones', async () => {
    const t = await openTestApp(newsroom);
    try {
      const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
      const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
      const old = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'old', fields: {} })), keys);
      const fresh = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'new', fields: {} })), keys);
      const longAgo = new TipStore(t.db, () => new Date(Date.now() - 100 * 86_400_000));
      const oldThread = 'a'.repeat(64);
      await longAgo.add({ ciphertext: old, via: 'browser', manifestVersion: 1, threadId: oldThread, kind: 'tip' });
      const freshId = await new TipStore(t.db).add({ ciphertext: fresh, via: 'browser', manifestVersion: 1, threadId: 'b'.repeat(64), kind: 'tip' });
      const slice = Buffer.from(old.subarray(old.length - 120, old.length - 40));
      const scan = async () => (await Promise.all((await readdir(newsroom.dataDir, { withFileTypes: true })).filter((f) => f.isFile()).map((f) => readFile(join(newsroom.dataDir, f.name))))).some((b) => b.includes(slice));
      // The files are SQLite's (secure_delete and the WAL checkpoint); PostgreSQL has no secure delete (README).
      if (!ON_POSTGRES) expect(await scan()).toBe(true);

      expect(await purgeExpired(t.db, { retentionDays: 0 })).toEqual({ tips: 0, replies: 0, threads: 0 }); // 0 keeps forever
      const result = await purgeExpired(t.db, { retentionDays: 90 });
      expect(result.tips).toBeGreaterThanOrEqual(1);
      expect(result.threads).toBeGreaterThanOrEqual(1);
      expect(await t.db.selectFrom('threads').select('id').where('id', '=', oldThread).execute()).toEqual([]);
      expect(await t.db.selectFrom('tips').select('id').where('id', '=', freshId).execute()).toHaveLength(1);
      if (!ON_POSTGRES) expect(await scan()).toBe(false);
    } finally {
      await t.close();
    }
  });
});

describe('retention warnings for journalists', () => {
  it('fetch warns about tips the server deletes within 7 days', async () => {
    const server = await startServer({ dataDir: newsroom.dataDir, port: 0, host: '127.0.0.1', log: () => {}, retentionDays: 30, powDifficulty: 0 });
    try {
      const t = await openTestApp(newsroom);
      try {
        const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
        const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
        const ct = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'aging', fields: {} })), keys);
        // 25 days old under a 30-day retention: deleted within 7 days.
        await new TipStore(t.db, () => new Date(Date.now() - 25 * 86_400_000)).add({ ciphertext: ct, via: 'browser', manifestVersion: 1, threadId: 'c'.repeat(64), kind: 'tip' });
      } finally {
        await t.close();
      }
      const lines: string[] = [];
      const { fetchTips } = await import('../client/journalist/fetch-tips.ts');
      const { mkdtemp } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const result = await fetchTips({ server: server.url, token: ana.token, outDir: await mkdtemp(join(tmpdir(), 'tipline-inbox-')), log: (l) => lines.push(l) });
      expect(result.expiringSoon).toBeGreaterThanOrEqual(1);
      expect(lines.some((l) => /will be deleted from the server within 7 days/.test(l))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('slow clients', () => {
  it('a client that sends headers one byte at a time is cut off; others are still served', async () => {
    const server = await startServer({ dataDir: newsroom.dataDir, port: 0, host: '127.0.0.1', log: () => {}, timeouts: { headers: 1500 } });
    try {
      const socket = connect(server.port, '127.0.0.1');
      const closed = new Promise<number>((resolve) => {
        const started = Date.now();
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', () => {});
      });
      const request = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(100);
      let i = 0;
      const drip = setInterval(() => {
        if (i < request.length && !socket.destroyed) socket.write(request[i++]!);
      }, 250);
      // Meanwhile, a normal client gets its page.
      const ok = await fetch(`${server.url}/`);
      expect(ok.status).toBe(200);
      const lasted = await closed;
      clearInterval(drip);
      expect(lasted).toBeLessThan(6000);
      expect(i).toBeLessThan(request.length); // cut off before it finished its headers
    } finally {
      await server.close();
    }
  });
});

describe('request bodies over a real socket', () => {
  // Under `tipline serve` JSON bodies are read from the Node request stream itself (read-body.ts, requestBody).
  it('refuses a tip body over the limit, declared or only counted as it streams, and stores nothing', async () => {
    const server = await startServer({ dataDir: newsroom.dataDir, port: 0, host: '127.0.0.1', log: () => {}, powDifficulty: 0, limits: { maxTipBytes: 4096 } });
    const countTips = async () => {
      const res = await fetch(`${server.url}/api/v1/journalist/tips?limit=500`, { headers: { authorization: `Bearer ${ana.token}` } });
      return ((await res.json()) as { tips: unknown[] }).tips.length;
    };
    try {
      const before = await countTips();
      const oversized = JSON.stringify({ ciphertext: base64.encode(randomBytes(20_000)), lookupSecret: base64.encode(randomBytes(32)) });
      const declared = await fetch(`${server.url}/api/v1/tips`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: oversized });
      expect(declared.status).toBe(413);
      // No content-length: the server counts as the body streams in, and stops reading.
      const streamed = await fetch(`${server.url}/api/v1/tips`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([oversized]).stream(),
        duplex: 'half',
      } as RequestInit).then((r) => r.status, () => 'cut');
      expect([413, 'cut']).toContain(streamed);
      // A body that is not JSON is a clear 400, read the same way.
      const bad = await fetch(`${server.url}/api/v1/tips`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ciphertext": ' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('bad-json');
      expect(await countTips()).toBe(before);
    } finally {
      await server.close();
    }
  });
});
