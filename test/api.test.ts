/**
 * The HTTP API through `app.request`: what gets stored, and everything that
 * must be refused with a 4xx and `{ "error": { "code", "message" } }`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { verifyManifest, type SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, decodeTipDocument } from '../crypto/tip-document.ts';
import { removeJournalist } from '../server/admin/newsroom.ts';
import { readDataDir } from '../server/data-dir.ts';
import { utcDay } from '../crypto/day.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let bo: TestJournalist;
let t: TestApp;
let manifestKeys: openpgp.PublicKey[];

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** A first tip also carries the lookup secret derived from the source's new codename. */
const tipJson = (body: Record<string, unknown>) => json({ lookupSecret: base64.encode(randomBytes(32)), ...body });
const auth = (j: TestJournalist) => ({ headers: { authorization: `Bearer ${j.token}` } });

async function expectError(res: Response, status: number, code?: string): Promise<void> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(5);
  if (code) expect(body.error.code).toBe(code);
}

async function tipCiphertext(message: string, keys = manifestKeys): Promise<Uint8Array> {
  return encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message, fields: {} })), keys);
}

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  bo = await addTestJournalist(newsroom, 'Bo');
  t = await openTestApp(newsroom, { limits: { maxTipBytes: 64 * 1024, maxPageSize: 50, maxTipsBatchBytes: 12 * 1024 } });
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  const { newsroomPublicKey } = await readDataDir(newsroom.dataDir);
  const manifest = verifyManifest(signed, newsroomPublicKey, { today: utcDay() });
  manifestKeys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
});

afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

describe('manifest', () => {
  it('serves the signed manifest with both journalists', async () => {
    const res = await t.app.request('/api/v1/manifest');
    expect(res.status).toBe(200);
    const signed = (await res.json()) as SignedManifest;
    expect(signed.manifest.recipients.map((r) => r.name).sort()).toEqual(['Ana', 'Bo']);
    expect(signed.manifest.version).toBe(2);
  });
});

describe('POST /api/v1/tips', () => {
  it('stores a tip encrypted to the manifest and returns a fixed-size receipt', async () => {
    const r1 = await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext('first')) }));
    const r2 = await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext('second, and longer '.repeat(50))) }));
    expect(r1.status).toBe(201);
    expect(r2.status).toBe(201);
    const b1 = await r1.text();
    const b2 = await r2.text();
    expect(b1.length).toBe(b2.length);
    expect(JSON.parse(b1)).toEqual({ status: 'received', receipt: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });

    const receipt = JSON.parse(b1).receipt as string;
    const stored = await t.app.request(`/api/v1/journalist/tips/${receipt}`, auth(ana));
    expect(stored.status).toBe(200);
    const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(await stored.arrayBuffer()) });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: ana.privateKey, format: 'binary' });
    expect(decodeTipDocument(data as Uint8Array).message).toBe('first');
  });

  it('refuses a plaintext body', async () => {
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(new TextEncoder().encode('my secret tip')) })), 422, 'not-encrypted');
  });

  it('refuses an unencrypted OpenPGP literal message', async () => {
    const literal = await (await openpgp.createMessage({ text: 'plain words' })).write();
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(literal as Uint8Array) })), 422, 'not-encrypted');
  });

  it('refuses a message to a key that is not in the manifest', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'eve@example.org' }], format: 'object' });
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext('x', [publicKey])) })), 422, 'wrong-recipients');
    // Nor may an outsider ride along with the real recipients.
    const extra = await tipCiphertext('x', [...manifestKeys, publicKey]);
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(extra) })), 422, 'wrong-recipients');
  });

  it('refuses a message that leaves out one journalist', async () => {
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext('x', manifestKeys.slice(0, 1))) })), 422, 'wrong-recipients');
  });

  it('refuses a random blob', async () => {
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(randomBytes(5000)) })), 422);
  });

  it('refuses an oversized body, declared or not', async () => {
    const big = base64.encode(randomBytes(100 * 1024));
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: big })), 413, 'too-large');
    // Streamed without a Content-Length: the byte count still stops it.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"ciphertext":"${big}"}`));
        controller.close();
      },
    });
    const req = new Request('http://local/api/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    await expectError(await t.app.request(req), 413, 'too-large');
  });

  it('refuses malformed JSON, the wrong shape, bad base64 and the wrong content type', async () => {
    await expectError(await t.app.request('/api/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ciphertext": ' }), 400, 'bad-json');
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: 'AAAA', alreadyEncrypted: true })), 400, 'bad-request');
    await expectError(await t.app.request('/api/v1/tips', tipJson({})), 400, 'bad-request');
    await expectError(await t.app.request('/api/v1/tips', tipJson({ ciphertext: '***' })), 400, 'bad-request');
    await expectError(await t.app.request('/api/v1/tips', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }), 415);
  });

  it('stores nothing for a refused tip', async () => {
    const before = (await t.db.selectFrom('tips').select('id').execute()).length;
    await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(randomBytes(500)) }));
    await t.app.request('/api/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect((await t.db.selectFrom('tips').select('id').execute()).length).toBe(before);
  });
});

describe('no-JavaScript form', () => {
  const form = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('encrypts on the server and stores the tip marked "server"', async () => {
    const text = 'Sans JavaScript — 没有脚本\nline 2';
    const res = await noJsPoster((p, init) => t.app.request(p, init))('/submit', `message=${encodeURIComponent(text)}`);
    expect(res.status).toBe(201);
    expect(await res.text()).toContain('Your tip was received');
    const rows = await t.db.selectFrom('tips').select(['id', 'via', 'ciphertext']).where('via', '=', 'server').execute();
    expect(rows).toHaveLength(1);
    const message = await openpgp.readMessage({ binaryMessage: rows[0]!.ciphertext });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: bo.privateKey, format: 'binary' });
    expect(decodeTipDocument(data as Uint8Array).message).toBe(text);
  });

  it('says "NOT sent" and keeps the text for an empty or too-long message', async () => {
    const empty = await t.app.request('/submit', form('message=%20%20'));
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('Your tip was NOT sent.');
  });
});

describe('journalist API', () => {
  it('refuses a missing, malformed or wrong token', async () => {
    await expectError(await t.app.request('/api/v1/journalist/tips'), 401, 'unauthorized');
    await expectError(await t.app.request('/api/v1/journalist/tips', { headers: { authorization: 'Bearer nonsense' } }), 401, 'unauthorized');
    await expectError(await t.app.request('/api/v1/journalist/tips', { headers: { authorization: 'Basic abc' } }), 401, 'unauthorized');
    // Right id, wrong secret.
    const wrong = ana.token.slice(0, -4) + (ana.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await expectError(await t.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${wrong}` } }), 401, 'unauthorized');
  });

  it('lists oldest first with day-only dates, pages with a cursor, and refuses bad paging', async () => {
    for (let i = 0; i < 3; i++) await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext(`page ${i}`)) }));
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.app.request(`/api/v1/journalist/tips?limit=2${cursor ? `&cursor=${cursor}` : ''}`, auth(bo));
      expect(res.status).toBe(200);
      const page = (await res.json()) as { tips: { id: string; receivedDay: string; via: string }[]; nextCursor: string | null };
      expect(page.tips.length).toBeLessThanOrEqual(2);
      for (const tip of page.tips) {
        expect(tip.receivedDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        all.push(tip.id);
      }
      cursor = page.nextCursor;
    } while (cursor);
    const count = (await t.db.selectFrom('tips').select('id').execute()).length;
    expect(new Set(all).size).toBe(count);
    await expectError(await t.app.request('/api/v1/journalist/tips?limit=0', auth(bo)), 400, 'bad-limit');
    await expectError(await t.app.request('/api/v1/journalist/tips?limit=51', auth(bo)), 400, 'bad-limit');
    await expectError(await t.app.request('/api/v1/journalist/tips?limit=10&cursor=../../etc', auth(bo)), 400, 'bad-cursor');
  });

  it('deletes a tip for good', async () => {
    const receipt = (await (await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext('delete me')) }))).json()).receipt as string;
    const del = await t.app.request(`/api/v1/journalist/tips/${receipt}`, { method: 'DELETE', ...auth(ana) });
    expect(del.status).toBe(200);
    await expectError(await t.app.request(`/api/v1/journalist/tips/${receipt}`, auth(ana)), 404, 'not-found');
    await expectError(await t.app.request(`/api/v1/journalist/tips/${receipt}`, { method: 'DELETE', ...auth(ana) }), 404, 'not-found');
    await expectError(await t.app.request('/api/v1/journalist/tips/..%2F..%2Fetc%2Fpasswd', auth(ana)), 404, 'not-found');
  });

  it('POST /tips/ciphertexts hands out many tips in the order asked, the same bytes as one by one, and refuses the rest with 4xx JSON', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await (await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(await tipCiphertext(`batch ${i}`)) }))).json()).receipt as string);
    const batch = (body: unknown, j: TestJournalist | null = ana, contentType = 'application/json') =>
      t.app.request('/api/v1/journalist/tips/ciphertexts', { method: 'POST', headers: { 'content-type': contentType, ...(j ? auth(j).headers : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const asked = [ids[1]!, ids[0]!];
    const res = await batch({ ids: asked });
    expect(res.status).toBe(200);
    const { tips } = (await res.json()) as { tips: { id: string; ciphertext: string }[] };
    expect(tips.map((x) => x.id)).toEqual(asked);
    for (const tip of tips) {
      const one = new Uint8Array(await (await t.app.request(`/api/v1/journalist/tips/${tip.id}`, auth(ana))).arrayBuffer());
      expect(base64.decode(tip.ciphertext)).toEqual(one);
    }
    // Auth first: no token, a wrong one.
    await expectError(await batch({ ids: asked }, null), 401, 'unauthorized');
    await expectError(await batch({ ids: asked }, { ...ana, token: 'tl_AAAAAAAAAAAAAAAAAAAAAA_AAAA' }), 401, 'unauthorized');
    // A tip that is not there (or malformed ids, duplicates, too many, the wrong shape or type).
    await expectError(await batch({ ids: [ids[0]!, 'A'.repeat(22)] }), 404, 'not-found');
    await expectError(await batch({ ids: ['../../etc/passwd'] }), 400, 'bad-request');
    await expectError(await batch({ ids: [ids[0]!, ids[0]!] }), 400, 'bad-request');
    await expectError(await batch({ ids: [] }), 400, 'bad-request');
    await expectError(await batch({ ids: Array.from({ length: 101 }, () => base64.encode(randomBytes(16)).replace(/[+/=]/g, 'x').slice(0, 22)) }), 400, 'bad-request');
    await expectError(await batch({ ids: asked, more: 1 }), 400, 'bad-request');
    await expectError(await batch('{"ids": '), 400);
    await expectError(await batch({ ids: asked }, ana, 'text/plain'), 415, 'unsupported-media-type');
    // More ciphertext than the limit (12 KiB here) in one answer, but any one tip alone.
    await expectError(await batch({ ids }), 413, 'too-large');
    expect((await batch({ ids: [ids[2]!] })).status).toBe(200);
  });

  it("refuses a removed journalist's token at once", async () => {
    const cy = await addTestJournalist(newsroom, 'Cy');
    expect((await t.app.request('/api/v1/journalist/me', auth(cy))).status).toBe(200);
    await removeJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: 'Cy' });
    await expectError(await t.app.request('/api/v1/journalist/tips', auth(cy)), 401, 'unauthorized');
  });
});

describe('every response follows the page rules', () => {
  const rules = (res: Response) => {
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    for (const h of ['server', 'x-powered-by', 'etag', 'set-cookie']) expect(res.headers.get(h)).toBeNull();
  };

  it('on a page, a static file, an API answer, 404s, a 413 and a 500', async () => {
    rules(await t.app.request('/'));
    rules(await t.app.request('/submit'));
    rules(await t.app.request('/static/style.css'));
    rules(await t.app.request('/api/v1/manifest'));
    const page404 = await t.app.request('/no/such/page');
    expect(page404.status).toBe(404);
    rules(page404);
    const api404 = await t.app.request('/api/v1/nothing');
    await expectError(api404.clone(), 404, 'not-found');
    rules(api404);
    const big = await t.app.request('/api/v1/tips', tipJson({ ciphertext: base64.encode(randomBytes(100 * 1024)) }));
    expect(big.status).toBe(413);
    rules(big);

    // A 500: the database is gone under the app. The client sees a generic error; a source route's error
    // prints nothing at once (it would time the request) but is counted, by class name, for the day (request-logger.test.ts).
    const broken = await openTestApp(newsroom);
    await broken.close();
    const res = await broken.app.request('/api/v1/manifest');
    await expectError(res.clone(), 500, 'internal');
    rules(res);
    expect(broken.logs).toEqual([]);
  });

  it('serves static files by name only: no traversal', async () => {
    expect((await t.app.request('/static/../package.json')).status).toBe(404);
    expect((await t.app.request('/static/%2e%2e/package.json')).status).toBe(404);
    expect((await t.app.request('/static/..%2f..%2fpackage.json')).status).toBe(404);
    expect((await t.app.request('/static/page.js')).headers.get('content-type')).toContain('javascript');
  });

  it('sends Onion-Location only when an onion address is configured', async () => {
    expect((await t.app.request('/')).headers.get('onion-location')).toBeNull();
    const onion = `${'a'.repeat(56)}.onion`;
    const withOnion = await openTestApp(newsroom, { onion });
    try {
      expect((await withOnion.app.request('/submit')).headers.get('onion-location')).toBe(`http://${onion}/submit`);
    } finally {
      await withOnion.close();
    }
  });

  it('serves robots.txt that disallows everything', async () => {
    expect(await (await t.app.request('/robots.txt')).text()).toBe('User-agent: *\nDisallow: /\n');
  });

  it('shows the newsroom fingerprint on the landing page', async () => {
    expect(await (await t.app.request('/')).text()).toContain(newsroom.fingerprint);
  });
});

describe('with no valid manifest', () => {
  it('shows "temporarily unavailable" instead of the form, and the API answers 503', async () => {
    const empty = await makeNewsroom();
    const app = await openTestApp(empty);
    try {
      const page = await app.app.request('/submit');
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('temporarily unavailable');
      await expectError(await app.app.request('/api/v1/manifest'), 503, 'unavailable');
      const form = await app.app.request('/submit', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'message=hello' });
      expect(form.status).toBe(503);
      expect((await app.db.selectFrom('tips').select('id').execute()).length).toBe(0);
    } finally {
      await app.close();
      await empty.cleanup();
    }
  });

  it('treats an expired manifest the same way', async () => {
    // The clock says the manifest (90 days) ran out yesterday.
    const later = new Date(Date.now() + 92 * 86_400_000);
    const app = await openTestApp(newsroom, { clock: () => later });
    try {
      expect((await app.app.request('/submit')).status).toBe(503);
      await expectError(await app.app.request('/api/v1/manifest'), 503, 'unavailable');
    } finally {
      await app.close();
    }
  });
});
