/**
 * What the server prints, read as an examiner reads a journald or Docker log
 * (every line timestamped by the collector): a line per source request would
 * time each tip, upload, login and follow-up to the second. So source-facing
 * requests print nothing; they are counted, and the counts come out once a
 * day, after the day ended. Journalist routes may log (route pattern and
 * status only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { DailyCounts } from '../server/http/daily-counts.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let now = new Date('2026-12-06T14:03:07Z');
const counts = new DailyCounts(() => now);

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const form = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  t = await openTestApp(newsroom, { counts });
});

afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

describe('the server log', () => {
  it('prints nothing for source requests, and counts tips, uploads and follow-ups for the day', async () => {
    const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
    const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
    const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'hello', fields: {} })), keys);

    expect((await t.app.request('/')).status).toBe(200);
    expect((await t.app.request('/submit')).status).toBe(200);
    expect((await t.app.request('/login')).status).toBe(200);
    expect((await t.app.request('/static/style.css')).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const tip = await t.app.request('/api/v1/tips', json({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)) }));
      expect(tip.status).toBe(201);
    }
    expect((await noJsPoster((p, init) => t.app.request(p, init))('/submit', 'message=no-js')).status).toBe(201);
    expect((await t.app.request('/api/v1/uploads', json({ bytes: 1000 }))).status).toBe(201);
    // Refused and failed logins: nothing printed, nothing counted as a tip.
    expect((await t.app.request('/api/v1/tips', json({ ciphertext: base64.encode(randomBytes(40)), lookupSecret: base64.encode(randomBytes(32)) }))).status).toBe(422);
    expect((await t.app.request('/api/v1/source/login', json({ lookupSecret: base64.encode(randomBytes(32)) }))).status).toBeGreaterThanOrEqual(400);
    expect((await t.app.request('/no/such/page')).status).toBe(404);

    expect(t.logs).toEqual([]);
    expect(counts.takeEndedDay()).toBeUndefined(); // the day isn't over: nothing to print yet

    now = new Date('2026-12-07T00:00:30Z');
    expect(counts.takeEndedDay()).toBe('2026-12-06: 4 tips, 0 follow-ups, 1 uploads, 0 errors');
    expect(counts.takeEndedDay()).toBeUndefined(); // once
    expect(counts.today()).toBe('2026-12-07: 0 tips, 0 follow-ups, 0 uploads, 0 errors');
  });

  it('prints a journalist request as route pattern and status: no id, no query, no duration', async () => {
    const list = await t.app.request('/api/v1/journalist/tips?limit=5&cursor=abc', { headers: { authorization: `Bearer ${ana.token}` } });
    expect(list.status).toBeLessThan(500);
    const id = 'AAAAAAAAAAAAAAAAAAAAAA';
    await t.app.request(`/api/v1/journalist/tips/${id}`, { headers: { authorization: `Bearer ${ana.token}` } });
    expect(t.logs.length).toBe(2);
    for (const line of t.logs) expect(line).toMatch(/^(GET|POST|PUT|DELETE) \/api\/v1\/journalist\/[a-z/:]+ \d{3}$/);
    expect(t.logs.join('\n')).not.toContain(id);
    expect(t.logs.join('\n')).not.toContain('cursor');
  });

  it('counts a source-route error by class name only, printing nothing at once', async () => {
    const day = new Date('2026-12-08T09:15:00Z');
    const brokenCounts = new DailyCounts(() => day);
    const b = await openTestApp(newsroom, { counts: brokenCounts });
    await b.close(); // the database is gone under the app
    const res = await b.app.request('/api/v1/manifest');
    expect(res.status).toBe(500);
    expect(b.logs).toEqual([]);
    expect(brokenCounts.today()).toMatch(/^2026-12-08: 0 tips, 0 follow-ups, 0 uploads, 1 errors \(\w+ 1\)$/);
    // A journalist route's error is printed at once, with the class name only.
    const j = await b.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${ana.token}` } });
    expect(j.status).toBe(500);
    expect(b.logs).toHaveLength(1);
    expect(b.logs[0]).toMatch(/^GET \/api\/v1\/journalist\/tips 500 error \w+$/);
  });
});
