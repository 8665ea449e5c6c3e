/**
 * The codename login, played by a flooder and by another website: one
 * session per conversation (a new login ends the old one), logins limited
 * per conversation (the flooder only slows themselves), no one else's session
 * ever pushed out, and cross-site posts (login, logout, follow-up, reply
 * deletion, the no-JavaScript forms) refused by Sec-Fetch-Site / Origin while
 * the tip line's own posts (Tor Browser sends `Sec-Fetch-Site: same-origin`,
 * and `Origin: null` under our no-referrer policy) still work.
 */
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64 } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename, threadIdOf } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { sealReply } from '../crypto/reply-box.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { translator } from '../i18n/index.ts';
import { LoginThrottle } from '../server/abuse/login-throttle.ts';
import { isCrossSite } from '../server/http/same-origin.ts';
import { SessionsFullError, SourceSessions } from '../server/source/sessions.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

const ONION = `${'c'.repeat(55)}d.onion`;
let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let now = Date.now();
let keys: openpgp.PublicKey[];

type Conversation = { codename: string; lookupSecret: Uint8Array; threadId: string; replyPublicKey: Uint8Array };

async function openConversation(): Promise<Conversation> {
  const codename = generateCodename('en');
  const k = deriveCodenameKeys(parseCodename(codename).entropy);
  const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'hello', fields: {} })), keys);
  const res = await t.app.request('/api/v1/tips', json({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(k.lookupSecret) }));
  expect(res.status).toBe(201);
  return { codename, lookupSecret: k.lookupSecret, threadId: threadIdOf(k.lookupSecret), replyPublicKey: k.replyPublicKey };
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const form = (body: string, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });

async function login(c: Conversation, headers: Record<string, string> = {}): Promise<Response> {
  return t.app.request('/api/v1/source/login', json({ lookupSecret: base64.encode(c.lookupSecret) }, headers));
}
function cookieOf(res: Response): string {
  const m = /tl_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  expect(m, 'a session cookie').not.toBeNull();
  return `tl_session=${m![1]}`;
}
async function sessionCookie(c: Conversation): Promise<string> {
  const res = await login(c);
  expect(res.status).toBe(200);
  return cookieOf(res);
}
const loggedIn = async (cookie: string) => (await t.app.request('/api/v1/source/replies', { headers: { cookie } })).status === 200;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  t = await openTestApp(newsroom, { onion: ONION, clock: () => new Date(now) });
  const manifest = await t.app.request('/api/v1/manifest');
  // Said in full if it fails (CI once saw no manifest here, without a word why).
  expect(manifest.status, await manifest.clone().text()).toBe(200);
  const signed = (await manifest.json()) as SignedManifest;
  keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
});

afterAll(async () => {
  await t?.close();
  await newsroom?.cleanup();
});

describe('one session per conversation', () => {
  it('a new login, API or no-JavaScript, ends the session the earlier one started', async () => {
    const a = await openConversation();
    const first = await sessionCookie(a);
    expect(await loggedIn(first)).toBe(true);
    const second = await sessionCookie(a);
    expect(await loggedIn(first)).toBe(false);
    expect(await loggedIn(second)).toBe(true);
    const page = await t.app.request('/login', form(`codename=${encodeURIComponent(a.codename)}`));
    expect(page.status).toBe(200);
    const third = cookieOf(page);
    expect(await loggedIn(second)).toBe(false);
    expect(await loggedIn(third)).toBe(true);
  });

  it('a flood of logins with one codename never logs another source out', async () => {
    const b = await openConversation();
    const bobs = await sessionCookie(b);
    const flooder = await openConversation();
    for (let i = 0; i < 60; i++) await login(flooder);
    expect(await loggedIn(bobs)).toBe(true);
  });

  it('when every slot is taken, a new login waits instead of ending someone else\'s session', () => {
    const sessions = new SourceSessions(() => 0, { maxSessions: 3 });
    const ids = ['t1', 't2', 't3'].map((thread) => sessions.create(thread));
    expect(() => sessions.create('t4')).toThrow(SessionsFullError);
    expect(ids.map((id) => sessions.threadOf(id))).toEqual(['t1', 't2', 't3']);
    // Logging in again on a conversation that has a slot reuses its own.
    for (let i = 0; i < 100; i++) sessions.create('t1');
    expect(sessions.size).toBe(3);
    expect(sessions.threadOf(ids[1])).toBe('t2');
    sessions.destroyThread('t2');
    expect(sessions.threadOf(ids[1])).toBeUndefined();
    expect(sessions.threadOf(sessions.create('t4'))).toBe('t4');
  });
});

describe('logins are limited per conversation', () => {
  it('10 an hour each: the 11th is a 429 (API and page, in the source\'s language), others are unaffected, and the budget refills', async () => {
    const a = await openConversation();
    const b = await openConversation();
    for (let i = 0; i < 10; i++) expect((await login(a)).status).toBe(200);
    const refused = await login(a);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too-many-logins');
    const page = await t.app.request('/login?lang=fr', form(`codename=${encodeURIComponent(a.codename)}`));
    expect(page.status).toBe(429);
    expect(await page.text()).toContain(translator('fr')('login.error.tooMany').replace(/’/g, '&#39;').slice(0, 30));
    // Another conversation logs in as usual.
    expect((await login(b)).status).toBe(200);
    // Six minutes later one more login is allowed, not two.
    now += 6 * 60_000 + 1000;
    expect((await login(a)).status).toBe(200);
    expect((await login(a)).status).toBe(429);
    now += 60 * 60_000;
    for (let i = 0; i < 10; i++) expect((await login(a)).status).toBe(200);
  });

  it('LoginThrottle keeps no entry for a conversation whose budget is whole again', () => {
    let at = 0;
    const logins = new LoginThrottle({ perHour: 2 }, () => at);
    expect([logins.take('x'), logins.take('x'), logins.take('x')]).toEqual([true, true, false]);
    expect(logins.minutesUntilNext('x')).toBe(30);
    at += 60 * 60_000;
    logins.take('y');
    expect(logins.minutesUntilNext('x')).toBe(0);
    expect((logins as unknown as { budgets: Map<string, unknown> }).budgets.has('x')).toBe(false);
  });
});

describe('cross-site posts are refused', () => {
  const crossSite: Record<string, string>[] = [
    { 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' },
    { 'sec-fetch-site': 'same-site', origin: `http://x.${ONION}` },
    // An older browser without Sec-Fetch-Site still names the other site in Origin.
    { origin: 'http://evil.example' },
    { origin: 'http://clone.onion' },
  ];

  it('login, logout, follow-up, reply deletion and the no-JavaScript forms: 403 cross-site, and nothing happens', async () => {
    const a = await openConversation();
    const box = sealReply(padToBucket(encodeTipDocument({ type: 'reply', message: 'we read it', fields: {} })), a.replyPublicKey);
    const copy = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'reply', message: 'we read it', fields: {} })), keys);
    const replied = await t.app.request(`/api/v1/journalist/threads/${a.threadId}/replies`, json({ box: base64.encode(box), copy: base64.encode(copy) }, { authorization: `Bearer ${ana.token}` }));
    expect(replied.status).toBe(201);
    const cookie = await sessionCookie(a);
    const replyId = ((await (await t.app.request('/api/v1/source/replies', { headers: { cookie } })).json()) as { replies: { id: string }[] }).replies[0]!.id;
    const followupsBefore = ((await (await t.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${ana.token}` } })).json()) as { tips: unknown[] }).tips.length;
    for (const headers of crossSite) {
      const attempts: [string, RequestInit][] = [
        ['/api/v1/source/login', json({ lookupSecret: base64.encode(a.lookupSecret) }, headers)],
        ['/login?lang=es', form(`codename=${encodeURIComponent(a.codename)}`, headers)],
        ['/api/v1/source/logout', { method: 'POST', headers: { cookie, ...headers } }],
        ['/logout', form('', { cookie, ...headers })],
        ['/api/v1/source/followups', json({ ciphertext: base64.encode(copy) }, { cookie, ...headers })],
        ['/inbox/reply', form('message=forged', { cookie, ...headers })],
        [`/api/v1/source/replies/${replyId}`, { method: 'DELETE', headers: { cookie, ...headers } }],
        ['/inbox/delete', form(`id=${replyId}`, { cookie, ...headers })],
        ['/submit', form('message=forged', headers)],
      ];
      for (const [path, init] of attempts) {
        const res = await t.app.request(path, init);
        const where = `${init.method} ${path} ${JSON.stringify(headers)}`;
        expect(res.status, where).toBe(403);
        expect(res.headers.get('set-cookie'), where).toBeNull();
        if (path.startsWith('/api/')) expect(((await res.json()) as { error: { code: string } }).error.code, where).toBe('cross-site');
        else if (path.includes('lang=es')) expect(await res.text(), where).toContain(translator('es')('crossSite.heading'));
      }
    }
    // Still logged in, the reply is still there, no forged follow-up or tip was stored.
    const replies = (await (await t.app.request('/api/v1/source/replies', { headers: { cookie } })).json()) as { replies: { id: string }[] };
    expect(replies.replies.map((r) => r.id)).toEqual([replyId]);
    const tipsAfter = ((await (await t.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${ana.token}` } })).json()) as { tips: unknown[] }).tips.length;
    expect(tipsAfter).toBe(followupsBefore);
  });

  it('the tip line\'s own posts still work: Sec-Fetch-Site same-origin, Origin null (no-referrer), the onion as Origin, or no such header at all', async () => {
    const a = await openConversation();
    const own: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-origin', origin: 'null' },
      { 'sec-fetch-site': 'same-origin', origin: `http://${ONION}` },
      // Behind a proxy that rewrote Host, the browser's own word still counts.
      { 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:8080' },
      { origin: 'null' },
      { origin: `http://${ONION}` },
      { origin: 'http://localhost' },
      {},
    ];
    for (const headers of own) {
      const res = await t.app.request('/login', form(`codename=${encodeURIComponent(a.codename)}`, headers));
      expect(res.status, JSON.stringify(headers)).toBe(200);
      const cookie = cookieOf(res);
      const reply = await noJsPoster((path, init) => t.app.request(path, init))('/inbox/reply', 'message=still%20here', { cookie, ...headers });
      expect(reply.status, JSON.stringify(headers)).toBe(201);
      expect((await t.app.request('/logout', form('', { cookie, ...headers }))).status).toBe(303);
      expect(await loggedIn(cookie)).toBe(false);
      now += 7 * 60_000; // stays within the login budget
    }
    // The journalist API takes a bearer token and is not checked (the CLI sends neither header anyway).
    expect(isCrossSite(undefined, undefined, 'localhost')).toBe(false);
    expect(isCrossSite('none', undefined, 'localhost')).toBe(false);
    expect(isCrossSite(undefined, 'javascript:alert(1)', 'localhost')).toBe(true);
    expect(isCrossSite(undefined, 'not a url', 'localhost')).toBe(true);
  });
});
