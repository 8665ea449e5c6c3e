/**
 * Two-way conversations through `app.request`: a tip opens a thread, a
 * journalist replies, the source logs in with only the lookup secret, reads
 * the reply, sends a follow-up, deletes the reply; the journalist deletes the
 * thread. And the attacker's side: what the database holds, what a wrong
 * codename learns, what a session cookie carries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { base64, hex, randomBytes, utf8 } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename, threadIdOf, type CodenameKeys } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { openReply, sealReply } from '../crypto/reply-box.ts';
import { decodeTipDocument, encodeTipDocument, type TipDocument } from '../crypto/tip-document.ts';
import { SESSION_IDLE_MS, SourceSessions } from '../server/source/sessions.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let keys: openpgp.PublicKey[];

const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const auth = { authorization: '' };
const encrypt = (doc: TipDocument) => encryptToKeys(padToBucket(encodeTipDocument(doc)), keys);
const cookieOf = (res: Response) => /tl_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];

async function openThread(codename: string, message: string): Promise<CodenameKeys> {
  const k = deriveCodenameKeys(parseCodename(codename).entropy);
  const ciphertext = await encrypt({ type: 'tip', message, fields: {}, replyPublicKey: hex.encode(k.replyPublicKey) });
  const res = await t.app.request('/api/v1/tips', post({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(k.lookupSecret) }));
  expect(res.status).toBe(201);
  return k;
}

async function login(k: CodenameKeys): Promise<Response> {
  return t.app.request('/api/v1/source/login', post({ lookupSecret: base64.encode(k.lookupSecret) }));
}

async function reply(threadId: string, replyPublicKey: Uint8Array, text: string): Promise<Response> {
  const padded = padToBucket(encodeTipDocument({ type: 'reply', message: text, fields: {} }));
  const body = { box: base64.encode(sealReply(padded, replyPublicKey)), copy: base64.encode(await encryptToKeys(padded, keys)) };
  return t.app.request(`/api/v1/journalist/threads/${threadId}/replies`, post(body, auth));
}

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  auth.authorization = `Bearer ${ana.token}`;
  t = await openTestApp(newsroom);
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
});
afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

describe('a whole conversation', () => {
  const codename = generateCodename('fr');
  const replyText = 'Merci. Pouvez-vous nous dire quand cela a commencé ?';
  const followupText = 'En mars, au 3e étage.';
  let k: CodenameKeys;
  let session: string;

  it('a tip opens a thread that only the lookup secret finds', async () => {
    k = await openThread(codename, 'Il y a un « poste de police » au 12 rue X.');
    const res = await login(k);
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toMatch(/Max-Age|Expires/); // a session cookie, gone with the browser
    session = cookieOf(res)!;
    // The cookie is a random handle: not the lookup secret, not the thread id.
    expect(session).not.toContain(base64.encode(k.lookupSecret).slice(0, 20));
    expect(session).not.toContain(threadIdOf(k.lookupSecret).slice(0, 20));
  });

  it('the journalist replies; the source reads it with the key only the codename gives', async () => {
    const res = await reply(threadIdOf(k.lookupSecret), k.replyPublicKey, replyText);
    expect(res.status).toBe(201);
    const list = await t.app.request('/api/v1/source/replies', { headers: { cookie: `tl_session=${session}` } });
    expect(list.status).toBe(200);
    const { replies } = (await list.json()) as { replies: { id: string; box: string; day: string }[] };
    expect(replies).toHaveLength(1);
    expect(replies[0]!.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(decodeTipDocument(openReply(base64.decode(replies[0]!.box), k.replySecretKey)).message).toBe(replyText);
    // The newsroom copy opens with the journalist's key.
    const copies = (await (await t.app.request('/api/v1/journalist/replies', { headers: auth })).json()) as { replies: { id: string; seq: number }[] };
    const copy = await t.app.request(`/api/v1/journalist/replies/${copies.replies[0]!.id}`, { headers: auth });
    const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: new Uint8Array(await copy.arrayBuffer()) }), decryptionKeys: ana.privateKey, format: 'binary' });
    expect(decodeTipDocument(data as Uint8Array).message).toBe(replyText);
  });

  it('the source sends a follow-up; the journalist sees tip, reply, follow-up in order', async () => {
    const ciphertext = await encrypt({ type: 'followup', message: followupText, fields: {} });
    const res = await t.app.request('/api/v1/source/followups', post({ ciphertext: base64.encode(ciphertext) }, { cookie: `tl_session=${session}` }));
    expect(res.status).toBe(201);
    const threadId = threadIdOf(k.lookupSecret);
    const tips = ((await (await t.app.request('/api/v1/journalist/tips', { headers: auth })).json()) as { tips: { threadId: string; kind: string; seq: number }[] }).tips.filter((x) => x.threadId === threadId);
    const replies = ((await (await t.app.request('/api/v1/journalist/replies', { headers: auth })).json()) as { replies: { threadId: string; seq: number }[] }).replies.filter((x) => x.threadId === threadId);
    const order = [...tips.map((x) => [x.seq, x.kind]), ...replies.map((x) => [x.seq, 'reply'])].sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(order).toEqual([[1, 'tip'], [2, 'reply'], [3, 'followup']]);
  });

  it('a follow-up must be encrypted to the manifest too', async () => {
    const res = await t.app.request('/api/v1/source/followups', post({ ciphertext: base64.encode(utf8.encode('plain words')) }, { cookie: `tl_session=${session}` }));
    expect(res.status).toBe(422);
  });

  it('the source deletes the reply after reading it; the newsroom copy stays', async () => {
    const { replies } = (await (await t.app.request('/api/v1/source/replies', { headers: { cookie: `tl_session=${session}` } })).json()) as { replies: { id: string }[] };
    const del = await t.app.request(`/api/v1/source/replies/${replies[0]!.id}`, { method: 'DELETE', headers: { cookie: `tl_session=${session}` } });
    expect(del.status).toBe(200);
    const after = (await (await t.app.request('/api/v1/source/replies', { headers: { cookie: `tl_session=${session}` } })).json()) as { replies: unknown[] };
    expect(after.replies).toEqual([]);
    expect((await t.app.request(`/api/v1/journalist/replies/${replies[0]!.id}`, { headers: auth })).status).toBe(200);
    // And it can't be deleted twice, or by id guessing from another thread.
    expect((await t.app.request(`/api/v1/source/replies/${replies[0]!.id}`, { method: 'DELETE', headers: { cookie: `tl_session=${session}` } })).status).toBe(404);
  });

  it('logging out ends the session', async () => {
    const out = await t.app.request('/api/v1/source/logout', post({}, { cookie: `tl_session=${session}` }));
    expect(out.status).toBe(200);
    expect((await t.app.request('/api/v1/source/replies', { headers: { cookie: `tl_session=${session}` } })).status).toBe(401);
  });

  it('deleting the thread removes everything and ends its sessions', async () => {
    const again = cookieOf(await login(k))!;
    const threadId = threadIdOf(k.lookupSecret);
    const del = await t.app.request(`/api/v1/journalist/threads/${threadId}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(200);
    expect((await t.app.request('/api/v1/source/replies', { headers: { cookie: `tl_session=${again}` } })).status).toBe(401);
    expect((await login(k)).status).toBe(401);
    for (const table of ['tips', 'replies', 'threads'] as const) {
      const column = table === 'threads' ? 'id' : 'thread_id';
      expect(await t.db.selectFrom(table).select(column).where(column, '=', threadId).execute()).toEqual([]);
    }
  });
});

describe('what an attacker learns', () => {
  it('a wrong codename and an unknown one get the same status and body', async () => {
    const real = await openThread(generateCodename(), 'real');
    expect((await login(real)).status).toBe(200);
    // Wrong: a valid codename that isn't this source's. Unknown: random bytes as the lookup secret.
    const wrong = await login(deriveCodenameKeys(parseCodename(generateCodename()).entropy));
    const unknown = await t.app.request('/api/v1/source/login', post({ lookupSecret: base64.encode(randomBytes(32)) }));
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(wrong.status);
    expect(await unknown.text()).toBe(await wrong.text());
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('without a session, replies and follow-ups are refused', async () => {
    expect((await t.app.request('/api/v1/source/replies')).status).toBe(401);
    expect((await t.app.request('/api/v1/source/replies', { headers: { cookie: 'tl_session=forged' } })).status).toBe(401);
    const res = await t.app.request('/api/v1/source/followups', post({ ciphertext: 'AAAA' }));
    expect(res.status).toBe(401);
  });

  it('the same codename cannot open a second thread (and can\'t hijack one)', async () => {
    const codename = generateCodename();
    const k = await openThread(codename, 'first');
    const ciphertext = await encrypt({ type: 'tip', message: 'second', fields: {} });
    const res = await t.app.request('/api/v1/tips', post({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(k.lookupSecret) }));
    expect(res.status).toBe(409);
  });

  it('a reply upload must be a reply box plus a copy to exactly the journalist keys', async () => {
    const k = await openThread(generateCodename(), 'x');
    const threadId = threadIdOf(k.lookupSecret);
    const padded = padToBucket(encodeTipDocument({ type: 'reply', message: 'r', fields: {} }));
    const goodBox = base64.encode(sealReply(padded, k.replyPublicKey));
    const goodCopy = base64.encode(await encryptToKeys(padded, keys));
    const { publicKey: eve } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'eve@example.org' }], format: 'object' });
    const cases: [unknown, number][] = [
      [{ box: base64.encode(padded), copy: goodCopy }, 422], // plaintext as the "box"
      [{ box: goodBox, copy: base64.encode(padded) }, 422], // plaintext as the "copy"
      [{ box: goodBox, copy: base64.encode(await encryptToKeys(padded, [eve])) }, 422],
      [{ box: goodBox }, 400],
      [{ box: goodBox, copy: goodCopy, extra: 1 }, 400],
    ];
    for (const [body, status] of cases) expect((await t.app.request(`/api/v1/journalist/threads/${threadId}/replies`, post(body, auth))).status).toBe(status);
    expect((await t.app.request(`/api/v1/journalist/threads/${'0'.repeat(64)}/replies`, post({ box: goodBox, copy: goodCopy }, auth))).status).toBe(404);
    expect((await t.app.request(`/api/v1/journalist/threads/../../etc/replies`, post({ box: goodBox, copy: goodCopy }, auth))).status).toBe(404);
    expect((await t.app.request(`/api/v1/journalist/threads/${threadId}/replies`, post({ box: goodBox, copy: goodCopy }))).status).toBe(401);
    expect((await t.app.request(`/api/v1/journalist/threads/${threadId}/replies`, post({ box: goodBox, copy: goodCopy }, auth))).status).toBe(201);
  });

  it('the database holds no codename, no lookup secret, no reply text and no reply public key', async () => {
    const codename = generateCodename();
    const k = await openThread(codename, 'scan me');
    const secretReply = `reply-marker-${hex.encode(randomBytes(8))}`;
    expect((await reply(threadIdOf(k.lookupSecret), k.replyPublicKey, secretReply)).status).toBe(201);
    const files = await Promise.all((await readdir(newsroom.dataDir, { withFileTypes: true })).filter((f) => f.isFile()).map((f) => readFile(join(newsroom.dataDir, f.name))));
    const needles = [
      Buffer.from(codename),
      Buffer.from(codename.split(' ').slice(0, 3).join(' ')),
      Buffer.from(k.lookupSecret),
      Buffer.from(base64.encode(k.lookupSecret)),
      Buffer.from(secretReply),
      Buffer.from(k.replyPublicKey),
      Buffer.from(hex.encode(k.replyPublicKey)),
      Buffer.from(k.replySecretKey),
    ];
    for (const needle of needles) expect(files.some((f) => f.includes(needle))).toBe(false);
  });
});

describe('without JavaScript', () => {
  const form = (body: string, cookie?: string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body,
  });

  it('submit shows the codename once; login shows the replies; a follow-up is stored', async () => {
    const noJs = noJsPoster((p, init) => t.app.request(p, init));
    const submitted = await noJs('/submit?lang=zh-Hans', `message=${encodeURIComponent('没有脚本的线索')}`);
    expect(submitted.status).toBe(201);
    const html = await submitted.text();
    const codename = /<p id="codename"[^>]*>([^<]+)<\/p>/.exec(html)![1]!;
    expect(codename.split(' ')).toHaveLength(12);
    expect(parseCodename(codename).lang).toBe('zh-Hans');
    expect(submitted.headers.get('set-cookie')).toBeNull(); // no cookie before login
    const k = deriveCodenameKeys(parseCodename(codename).entropy);
    expect((await reply(threadIdOf(k.lookupSecret), k.replyPublicKey, '收到，谢谢。')).status).toBe(201);

    // Typed without spaces, as a Chinese speaker might.
    const loggedIn = await t.app.request('/login?lang=zh-Hans', form(`codename=${encodeURIComponent(codename.replace(/ /g, ''))}`));
    expect(loggedIn.status).toBe(200);
    const inbox = await loggedIn.text();
    expect(inbox).toContain('收到，谢谢。');
    const cookie = `tl_session=${cookieOf(loggedIn)}`;
    const followup = await noJs('/inbox/reply?lang=zh-Hans', 'message=%E8%BF%98%E6%9C%89', { cookie });
    expect(followup.status).toBe(201);
    const rows = await t.db.selectFrom('tips').select(['kind', 'via', 'seq']).where('thread_id', '=', threadIdOf(k.lookupSecret)).orderBy('seq').execute();
    expect(rows).toEqual([{ kind: 'tip', via: 'server', seq: 1 }, { kind: 'followup', via: 'server', seq: 3 }]);
    // Without the codename the server can't open replies again: /inbox says so rather than showing them.
    const locked = await (await t.app.request('/inbox?lang=zh-Hans', { headers: { cookie } })).text();
    expect(locked).not.toContain('收到，谢谢。');
  });

  it('a mistyped word gets a clear message; wrong and unknown codenames look the same', async () => {
    const real = generateCodename();
    const words = real.split(' ');
    words[3] = words[3] === 'abandon' ? 'ability' : 'abandon';
    const mistyped = await t.app.request('/login', form(`codename=${encodeURIComponent(words.join(' '))}`));
    // Either the checksum catches it (most likely) or it is a valid but unknown codename.
    expect([400, 401]).toContain(mistyped.status);
    const a = await t.app.request('/login', form(`codename=${encodeURIComponent(generateCodename())}`));
    const b = await t.app.request('/login', form(`codename=${encodeURIComponent(generateCodename())}`));
    expect(a.status).toBe(401);
    expect(await a.text()).toBe(await b.text());
    const short = await t.app.request('/login', form('codename=abandon+abandon'));
    expect(short.status).toBe(400);
    expect(await short.text()).toContain('A codename has 12 words.');
  });

  it('inbox actions need a session', async () => {
    expect((await t.app.request('/inbox')).status).toBe(303);
    expect((await t.app.request('/inbox/reply', form('message=hi'))).status).toBe(401);
    expect((await t.app.request('/inbox/delete', form('id=AAAAAAAAAAAAAAAAAAAAAA'))).status).toBe(401);
  });
});

describe('source sessions', () => {
  it('expire after 30 idle minutes, and stay alive while used', () => {
    let now = 0;
    const sessions = new SourceSessions(() => now);
    const id = sessions.create('t1');
    now += SESSION_IDLE_MS - 1000;
    expect(sessions.threadOf(id)).toBe('t1');
    now += SESSION_IDLE_MS - 1000;
    expect(sessions.threadOf(id)).toBe('t1');
    now += SESSION_IDLE_MS + 1;
    expect(sessions.threadOf(id)).toBeUndefined();
    expect(sessions.threadOf(undefined)).toBeUndefined();
  });
});
