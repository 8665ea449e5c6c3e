/**
 * Desks sealed on every journalist route, played by a journalist of another
 * desk: Ana is in Community only, Bo in Investigations only. A source opens an
 * Investigations conversation (a tip with an attachment, a follow-up, a reply
 * from Bo). Ana, with her own valid token, tries every journalist route on it:
 * each answers 404 exactly as for something that does not exist, lists leave it
 * out, and nothing changes (the conversation still opens with its codename).
 * Then the manifest expires: every route fails closed with 503 and the error JSON,
 * for Bo too. Deleting the conversation as Bo is audited.
 */
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { threadIdOf } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { inspectEncryptedMessage } from '../crypto/packets.ts';
import { sealReply } from '../crypto/reply-box.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { x25519 } from '@noble/curves/ed25519.js';
import { addJournalist } from '../server/admin/newsroom.ts';
import { makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';

let newsroom: TestNewsroom;
let t: TestApp;
const tokens: Record<'Ana' | 'Bo', string> = { Ana: '', Bo: '' };
let deskKeys: openpgp.PublicKey[];
const lookupSecret = randomBytes(32);
const threadId = threadIdOf(lookupSecret);
let tipId: string;
let blobId: string;
let replyId: string;
let tipBytes: Uint8Array;

async function newKey(email: string): Promise<string> {
  return (await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: email, email }], format: 'armored' })).publicKey;
}
const json = (body: unknown, method = 'POST') => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const as = (who: keyof typeof tokens, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${tokens[who]}` } });

beforeAll(async () => {
  newsroom = await makeNewsroom();
  for (const [name, desk] of [['Ana', 'Community'], ['Bo', 'Investigations']] as const) {
    tokens[name] = (await addJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name, armoredKey: await newKey(`${name.toLowerCase()}@example.org`), desks: [desk] })).token;
  }
  // codenameStillWorks() logs in after every route, more than a conversation's 10 logins an hour.
  t = await openTestApp(newsroom, { limits: { maxLoginsPerThreadPerHour: 1000 } });
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  const bo = signed.manifest.recipients.find((r) => r.name === 'Bo')!;
  deskKeys = [await readPublicKey(bo.publicKey)];

  // The source: an attachment, then the tip, then a follow-up, all to Investigations.
  const file = new Uint8Array(await new Response(await encryptFileStream(new Blob([randomBytes(5000) as Uint8Array<ArrayBuffer>]).stream(), deskKeys)).arrayBuffer());
  const created = await t.app.request('/api/v1/uploads', json({ bytes: file.length, desk: 'investigations' }));
  expect(created.status).toBe(201);
  blobId = ((await created.json()) as { id: string }).id;
  expect((await t.app.request(`/api/v1/uploads/${blobId}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: file })).status).toBe(200);
  expect((await t.app.request(`/api/v1/uploads/${blobId}/complete`, { method: 'POST' })).status).toBe(200);
  tipBytes = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'the ledger', fields: {}, desk: 'investigations' })), deskKeys);
  const tip = await t.app.request('/api/v1/tips', json({ ciphertext: base64.encode(tipBytes), lookupSecret: base64.encode(lookupSecret), desk: 'investigations', attachments: [blobId] }));
  expect(tip.status).toBe(201);
  const listed = (await (await t.app.request('/api/v1/journalist/tips', as('Bo'))).json()) as { tips: { id: string }[] };
  tipId = listed.tips[0]!.id;
  // Bo answers.
  const copy = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'reply', message: 'thank you', fields: {} })), deskKeys);
  const box = sealReply(new TextEncoder().encode('thank you'), x25519.getPublicKey(x25519.utils.randomSecretKey()));
  const reply = await t.app.request(`/api/v1/journalist/threads/${threadId}/replies`, as('Bo', json({ box: base64.encode(box), copy: base64.encode(copy) })));
  expect(reply.status).toBe(201);
  replyId = ((await reply.json()) as { id: string }).id;
});
afterAll(async () => {
  await t?.close();
  await newsroom?.cleanup();
});

/** Every journalist route that names one thing, as the other desk's journalist would call it. */
function routes(): [string, string, () => RequestInit][] {
  const tip = tipBytes;
  const keyPackets = tip.slice(0, inspectEncryptedMessage(tip).dataPacket.start);
  const sha = createHash('sha256').update(keyPackets).digest('hex');
  const all: [string, string, () => RequestInit][] = [
    ['GET', `/tips/${tipId}`, () => ({})],
    ['POST', '/tips/ciphertexts', () => json({ ids: [tipId] })],
    ['PUT', `/tips/${tipId}/ciphertext`, () => json({ ciphertext: base64.encode(tip) }, 'PUT')],
    ['DELETE', `/tips/${tipId}`, () => ({ method: 'DELETE' })],
    ['GET', `/blobs/${blobId}`, () => ({})],
    ['GET', `/blobs/${blobId}/head`, () => ({})],
    ['PUT', `/blobs/${blobId}/key-packets`, () => json({ keyPackets: base64.encode(keyPackets), previousKeyPacketsSha256: sha }, 'PUT')],
    ['GET', `/replies/${replyId}`, () => ({})],
    ['PUT', `/replies/${replyId}/copy`, () => json({ copy: base64.encode(tip) }, 'PUT')],
    ['POST', `/threads/${threadId}/replies`, () => json({ box: base64.encode(randomBytes(80)), copy: base64.encode(tip) })],
    ['DELETE', `/threads/${threadId}`, () => ({ method: 'DELETE' })],
  ];
  return all;
}

async function codenameStillWorks(): Promise<boolean> {
  return (await t.app.request('/api/v1/source/login', json({ lookupSecret: base64.encode(lookupSecret) }))).status === 200;
}

describe('a journalist of another desk', () => {
  // Collected before beforeAll has made the ids, so the table is indexed, and read when the test runs.
  it.each(Array.from({ length: 11 }, (_, i) => i))('route #%i answers 404, as for something that does not exist', async (i) => {
    const [method, path, init] = routes()[i]!;
    const res = await t.app.request(`/api/v1/journalist${path}`, as('Ana', { method, ...init() }));
    expect(res.status, `${method} ${path}`).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not-found');
    expect(await codenameStillWorks()).toBe(true);
  });

  it('lists none of the conversation: no tip, no reply, no thread id', async () => {
    const tips = await (await t.app.request('/api/v1/journalist/tips', as('Ana'))).text();
    const replies = await (await t.app.request('/api/v1/journalist/replies', as('Ana'))).text();
    expect(JSON.parse(tips).tips).toEqual([]);
    expect(JSON.parse(replies).replies).toEqual([]);
    expect(tips + replies).not.toContain(threadId);
    // The desk's own journalist sees all of it.
    expect(((await (await t.app.request('/api/v1/journalist/replies', as('Bo'))).json()) as { replies: { id: string }[] }).replies.map((r) => r.id)).toEqual([replyId]);
    const bo = await t.app.request(`/api/v1/journalist/replies/${replyId}`, as('Bo'));
    expect(bo.status).toBe(200);
  });

  it('changed nothing: the tip, the attachment and the reply are all still there for Bo', async () => {
    expect((await t.app.request(`/api/v1/journalist/tips/${tipId}`, as('Bo'))).status).toBe(200);
    expect((await t.app.request(`/api/v1/journalist/blobs/${blobId}`, as('Bo'))).status).toBe(200);
    expect(await t.db.selectFrom('replies').select('id').execute()).toEqual([{ id: replyId }]);
  });
});

describe('with no valid manifest', () => {
  it('every journalist route fails closed with 503 and the error JSON, even for the desk', async () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    const expired = await openTestApp(newsroom, { clock: () => later });
    try {
      const all: [string, string, () => RequestInit][] = [['GET', '/tips', () => ({})], ['GET', '/replies', () => ({})], ...routes()];
      for (const who of ['Ana', 'Bo'] as const) {
        for (const [method, path, init] of all) {
          const res = await expired.app.request(`/api/v1/journalist${path}`, as(who, { method, ...init() }));
          expect(res.status, `${who} ${method} ${path}`).toBe(503);
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
        }
      }
    } finally {
      await expired.close();
    }
    expect(await codenameStillWorks()).toBe(true);
    expect((await t.app.request(`/api/v1/journalist/tips/${tipId}`, as('Bo'))).status).toBe(200);
  });
});

describe("the conversation's own desk", () => {
  it('deletes it, and the audit log says who and which desk, never the conversation id', async () => {
    const res = await t.app.request(`/api/v1/journalist/threads/${threadId}`, as('Bo', { method: 'DELETE' }));
    expect(res.status).toBe(200);
    expect(await codenameStillWorks()).toBe(false);
    const audit = await t.db.selectFrom('audit_log').selectAll().where('action', '=', 'thread.delete').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail).toBe('journalist=Bo desk=investigations');
    expect(JSON.stringify(audit)).not.toContain(threadId);
  });
});
