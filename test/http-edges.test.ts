/**
 * The HTTP edges, played as a flooder over a real socket (@hono/node-server,
 * as `tipline serve` runs it): an over-limit body on every route that reads
 * one gets a 413 with the error JSON (not a connection reset), a client that
 * aborts mid-body or breaks the chunked framing is not a 500 and is not
 * counted as an error, and a full disk is a 503 `storage-full` in the
 * source's language, with nothing stored.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { translator } from '../i18n/index.ts';
import { DailyCounts } from '../server/http/daily-counts.ts';
import { isStorageFull } from '../server/http/storage-full.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let counts: DailyCounts;
let server: ReturnType<typeof serve>;
let port: number;
let tipCiphertext: string;
const lookupSecret = deriveCodenameKeys(parseCodename(generateCodename('en')).entropy).lookupSecret;

type Answer = { status: number; body: string; type: string } | { error: string };

/** One raw request: the body is written in pieces, and optionally the socket is destroyed part-way. */
function send(method: string, path: string, headers: Record<string, string>, pieces: (Buffer | string)[], o: { abortAfter?: number } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: String(res.headers['content-type'] ?? '') }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    void (async () => {
      let written = 0;
      for (const piece of pieces) {
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
        written++;
        if (o.abortAfter !== undefined && written >= o.abortAfter) {
          await new Promise((r) => setTimeout(r, 100));
          req.destroy();
          return;
        }
      }
      req.end();
    })();
  });
}

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  counts = new DailyCounts();
  t = await openTestApp(newsroom, { counts });
  server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => server.once('listening', () => r()));
  port = (server.address() as AddressInfo).port;
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
  tipCiphertext = base64.encode(await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'first', fields: {} })), keys));
  const opened = await t.app.request('/api/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ciphertext: tipCiphertext, lookupSecret: base64.encode(lookupSecret) }) });
  expect(opened.status).toBe(201);
});

afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  await t?.close();
  await newsroom?.cleanup();
});

async function sessionCookie(): Promise<string> {
  const res = await t.app.request('/api/v1/source/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lookupSecret: base64.encode(lookupSecret) }) });
  expect(res.status).toBe(200);
  return /tl_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')![0];
}

function expectErrorJson(a: Answer, status: number, code?: string): void {
  expect('error' in a ? a.error : a.status).toBe(status);
  const { body, type } = a as { body: string; type: string };
  expect(type).toMatch(/^application\/json/);
  const parsed = JSON.parse(body) as { error: { code: string; message: string } };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(typeof parsed.error.message).toBe('string');
  if (code) expect(parsed.error.code).toBe(code);
}

describe('an over-limit body', () => {
  // 4 MiB: more than any route takes in one body, and more than socket buffers hold, so a reset would show.
  const big = Buffer.alloc(4 * 1024 * 1024, 0x41);

  it('gets a 413 with the error JSON on every API route that reads a body, declared or streamed', async () => {
    const cookie = await sessionCookie();
    const bearer = { authorization: `Bearer ${ana.token}` };
    const created = (await (await t.app.request('/api/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: 1024 }) })).json()) as { id: string };
    const tips = (await (await t.app.request('/api/v1/journalist/tips', { headers: bearer })).json()) as { tips: { id: string }[] };
    const routes: [string, string, Record<string, string>][] = [
      ['POST', '/api/v1/challenge', { 'content-type': 'application/json' }],
      ['POST', '/api/v1/tips', { 'content-type': 'application/json' }],
      ['POST', '/api/v1/source/login', { 'content-type': 'application/json' }],
      ['POST', '/api/v1/source/followups', { 'content-type': 'application/json', cookie }],
      ['POST', '/api/v1/uploads', { 'content-type': 'application/json' }],
      // The upload was declared as 1 KiB: 4 MiB is over what it may take.
      ['PUT', `/api/v1/uploads/${created.id}?offset=0`, { 'content-type': 'application/octet-stream' }],
      ['POST', '/api/v1/journalist/tips/ciphertexts', { 'content-type': 'application/json', ...bearer }],
      ['PUT', `/api/v1/journalist/tips/${tips.tips[0]!.id}/ciphertext`, { 'content-type': 'application/json', ...bearer }],
    ];
    for (const [method, path, headers] of routes) {
      for (const framing of ['declared', 'chunked'] as const) {
        const h = { ...headers, ...(framing === 'declared' ? { 'content-length': String(big.length) } : { 'transfer-encoding': 'chunked' }) };
        const pieces = framing === 'declared' ? [big] : [big.subarray(0, 1 << 20), big.subarray(1 << 20)];
        const answer = await send(method, path, h, pieces);
        expect({ route: `${method} ${path} ${framing}`, answer: 'error' in answer ? answer.error : answer.status }).toEqual({ route: `${method} ${path} ${framing}`, answer: 413 });
        expectErrorJson(answer, 413);
      }
    }
    // The connection is still good for the next request, and nothing counted as a server error.
    expect(await send('GET', '/api/v1/manifest', {}, [])).toMatchObject({ status: 200 });
    expect(counts.today()).toMatch(/ 0 errors$/);
  });

  it('gets a 413 page on the no-JavaScript forms', async () => {
    for (const path of ['/submit', '/login', '/inbox/reply']) {
      const answer = await send('POST', `${path}?lang=fr`, { 'content-type': 'application/x-www-form-urlencoded', cookie: await sessionCookie(), 'content-length': String(big.length) }, [big]);
      expect({ path, status: 'error' in answer ? answer.error : answer.status }).toEqual({ path, status: 413 });
      expect((answer as { body: string }).body).toContain('<html lang="fr"');
    }
  });
});

describe('a client that leaves mid-body, or breaks the framing', () => {
  it('is not a 500 and is not counted as an error: tips, login, forms and upload chunks', async () => {
    const created = (await (await t.app.request('/api/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: 1 << 20 }) })).json()) as { id: string };
    const before = counts.today();
    const logsBefore = t.logs.length;
    const cases: [string, string, string][] = [
      ['POST', '/api/v1/tips', 'application/json'],
      ['POST', '/api/v1/source/login', 'application/json'],
      ['POST', '/submit', 'application/x-www-form-urlencoded'],
      ['PUT', `/api/v1/uploads/${created.id}?offset=0`, 'application/octet-stream'],
    ];
    for (const [method, path, type] of cases) {
      // Declares 600 bytes, sends 20 and hangs up.
      await send(method, path, { 'content-type': type, 'content-length': '600' }, ['{"ciphertext":"AAAAA', 'never sent'], { abortAfter: 1 });
      // Chunked framing that breaks part-way (a chunk size that is not hex).
      const broken = await send(method, path, { 'content-type': type, 'transfer-encoding': 'chunked' }, ['5\r\n{"cip\r\nzz\r\n']);
      if (!('error' in broken)) expect(broken.status).toBeLessThan(500);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(counts.today()).toBe(before);
    expect(counts.today()).toMatch(/ 0 errors$/);
    expect(t.logs.slice(logsBefore)).toEqual([]);
    // The upload lost nothing it had acknowledged, and the server still answers.
    // (A resumable upload keeps the bytes of a cut chunk that did arrive: the client asks, then resumes.)
    const state = (await (await t.app.request(`/api/v1/uploads/${created.id}`)).json()) as { received: number; complete: boolean };
    expect(state.complete).toBe(false);
    expect(state.received).toBeLessThan(40);
  });

  it('an aborted Web stream body (app.request) is a 400, not a 500', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"ciphertext":"AA'));
        setTimeout(() => controller.error(new Error('client went away')), 20);
      },
    });
    const res = await t.app.request('/api/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body-aborted');
  });
});

describe('a full disk', () => {
  it('recognises the storage layers\' own ways of saying so', () => {
    expect(isStorageFull(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error('could not extend file'), { code: '53100' }))).toBe(true);
    expect(isStorageFull(new Error('wrapped', { cause: Object.assign(new Error('no space'), { code: 'ENOSPC' }) }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT' }))).toBe(false);
    expect(isStorageFull('ENOSPC')).toBe(false);
  });

  it('answers 503 storage-full in the source\'s language, API and no-JavaScript form, and stores nothing', async () => {
    const full = await openTestApp(newsroom, { counts: new DailyCounts() });
    try {
      // SQLite's own "disk is full": the file may not grow by one more page.
      const pages = await sql<{ page_count: number }>`PRAGMA page_count`.execute(full.db);
      await sql.raw(`PRAGMA max_page_count = ${pages.rows[0]!.page_count}`).execute(full.db);
      const countTips = async () => Number((await full.db.selectFrom('tips').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const before = await countTips();
      const signed = (await (await full.app.request('/api/v1/manifest')).json()) as SignedManifest;
      const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
      // A tip larger than any free page left in the file.
      const ciphertext = base64.encode(await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: base64.encode(randomBytes(60_000)), fields: {} })), keys));
      const api = await full.app.request('/api/v1/tips?lang=fr', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ciphertext, lookupSecret: base64.encode(randomBytes(32)) }) });
      expect(api.status).toBe(503);
      expect(await api.json()).toEqual({ error: { code: 'storage-full', message: translator('fr')('storage.full') } });
      const form = await noJsPoster((p, init) => full.app.request(p, init))('/submit', `message=${encodeURIComponent(base64.encode(randomBytes(60_000)))}`, { 'accept-language': 'es' });
      expect(form.status).toBe(503);
      const page = await form.text();
      expect(page).toContain('<html lang="es"');
      expect(page).toContain(translator('es')('storage.heading'));
      expect(await countTips()).toBe(before);
    } finally {
      await full.close();
    }
  });
});

describe('the request path never reaches a URL or a header', () => {
  const onion = `${'b'.repeat(55)}d.onion`;
  const hostile = ['/%00', '/€', '/%ff', '//evil.example', '//evil.example/submit', '/%5Cclone.onion/', '/%5C%5Cclone.onion/x', '/a%0d%0aX-Evil:%201', '/%0d%0aSet-Cookie:%20x=1', '/%2F%2Fevil.example', '/submit/..%2f..%2f'];

  it('no 5xx, Onion-Location on the onion with the encoded path or /, and language links to fixed pages only', async () => {
    const withOnion = await openTestApp(newsroom, { onion });
    try {
      for (const path of hostile) {
        const res = await withOnion.app.request(path, { headers: { 'accept-language': 'fr' } });
        const where = `GET ${path} → ${res.status}`;
        expect(res.status, where).toBeLessThan(500);
        const location = res.headers.get('onion-location')!;
        expect(location, where).toMatch(new RegExp(`^http://${onion}/(?![/\\\\])[!-~]*$`));
        expect(res.headers.get('x-evil'), where).toBeNull();
        expect(res.headers.get('set-cookie'), where).toBeNull();
        const page = await res.text();
        const languageLinks = [...page.matchAll(/hreflang="[^"]+" href="([^"]*)"/g)].map((m) => m[1]);
        expect(languageLinks.length, where).toBeGreaterThan(0);
        // A 404 links the languages to the landing page: nothing of the path survives.
        for (const link of languageLinks) expect(link, where).toMatch(/^\/\?lang=[A-Za-z-]+$/);
      }
      // The encoded path is kept where it is plain ASCII, so Tor Browser lands on the same page.
      expect((await withOnion.app.request('/submit')).headers.get('onion-location')).toBe(`http://${onion}/submit`);
      expect((await withOnion.app.request('/%E2%82%AC')).headers.get('onion-location')).toBe(`http://${onion}/%E2%82%AC`);
      // Real pages keep their own page in the links; a form's answer links to the page that shows it.
      expect(await (await withOnion.app.request('/login?lang=es')).text()).toContain('href="/login?lang=fr"');
      const answered = await withOnion.app.request('/inbox/reply', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'message=x' });
      expect(await answered.text()).toContain('href="/inbox?lang=fr"');
    } finally {
      await withOnion.close();
    }
  });
});
