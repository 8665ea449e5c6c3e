/**
 * Follow-ups carry attachments the way tips do, through `app.request`: a
 * logged-in source uploads a file and names it in a follow-up; the journalist
 * API lists it with that follow-up, in the tip's conversation, and `fetch` +
 * `decrypt` file it in the follow-up's own folder. And the attacker's side: a
 * follow-up can't name a file twice, one another message already took, one
 * without a session, or more files than a tip may carry, and a refused
 * follow-up stores nothing and leaves the upload where it was.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { threadIdOf } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, type AttachmentRef, type TipDocument } from '../crypto/tip-document.ts';
import { readDecryptedMessages } from './helpers/browser.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let keys: openpgp.PublicKey[];

const MAX_FILES = 3;
const post = (body: unknown, cookie?: string) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
  body: JSON.stringify(body),
});
const auth = { headers: { authorization: '' } };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const encrypt = (doc: TipDocument) => encryptToKeys(padToBucket(encodeTipDocument(doc)), keys);

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  auth.headers.authorization = `Bearer ${ana.token}`;
  t = await openTestApp(newsroom, { limits: { maxFilesPerTip: MAX_FILES } });
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
});
afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

/** A file through the upload protocol, as the page sends it; returns its id and its description for the document. */
async function upload(name: string, plaintext: Uint8Array): Promise<AttachmentRef> {
  const stream = await encryptFileStream(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), keys);
  const ciphertext = new Uint8Array(await new Response(stream).arrayBuffer());
  const created = await t.app.request('/api/v1/uploads', post({ bytes: ciphertext.length }));
  expect(created.status).toBe(201);
  const { id } = (await created.json()) as { id: string };
  const chunk = await t.app.request(`/api/v1/uploads/${id}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: ciphertext });
  expect(chunk.status).toBe(200);
  expect((await t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(200);
  return { blobId: id, name, type: 'application/octet-stream', size: plaintext.length, sha256: sha256(plaintext) };
}

async function followup(cookie: string | undefined, message: string, refs: AttachmentRef[], ids = refs.map((r) => r.blobId)): Promise<Response> {
  const ciphertext = await encrypt({ type: 'followup', message, fields: {}, attachments: refs });
  return t.app.request('/api/v1/source/followups', post({ ciphertext: base64.encode(ciphertext), attachments: ids }, cookie));
}

type Listed = { id: string; threadId: string; kind: string; seq: number; attachments: { id: string; size: number }[] };
async function listed(threadId: string): Promise<Listed[]> {
  const res = await t.app.request('/api/v1/journalist/tips?limit=500', auth);
  // In the conversation's order (the list itself is by day and random id).
  return ((await res.json()) as { tips: Listed[] }).tips.filter((x) => x.threadId === threadId).sort((a, b) => a.seq - b.seq);
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
}

describe('attachments on follow-ups', () => {
  const lookupSecret = randomBytes(32);
  const threadId = threadIdOf(lookupSecret);
  let cookie: string;
  let ledger: AttachmentRef;
  const ledgerBytes = randomBytes(300 * 1024);

  beforeAll(async () => {
    const tip = await encrypt({ type: 'tip', message: 'The first tip.', fields: {}, replyPublicKey: '00'.repeat(32) });
    expect((await t.app.request('/api/v1/tips', post({ ciphertext: base64.encode(tip), lookupSecret: base64.encode(lookupSecret) }))).status).toBe(201);
    const login = await t.app.request('/api/v1/source/login', post({ lookupSecret: base64.encode(lookupSecret) }));
    cookie = `tl_session=${/tl_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]}`;
  });

  it('a follow-up claims its upload, is listed with it in the conversation, and decrypts into its own folder', async () => {
    ledger = await upload('ledger.bin', ledgerBytes);
    const res = await followup(cookie, 'Here is the ledger.', [ledger]);
    expect(res.status).toBe(201);
    // Claimed: no longer an open upload.
    expect((await t.app.request(`/api/v1/uploads/${ledger.blobId}`)).status).toBe(404);
    const thread = await listed(threadId);
    expect(thread.map((x) => [x.kind, x.attachments.map((a) => a.id)])).toEqual([
      ['tip', []],
      ['followup', [ledger.blobId]],
    ]);

    const server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    try {
      await new Promise((ok) => server.once('listening', ok));
      const inbox = join(newsroom.root, 'inbox');
      const out = join(newsroom.root, 'read');
      await mkdir(inbox, { recursive: true });
      await fetchTips({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: ana.token, outDir: inbox });
      const result = await decryptTips({ key: ana.privateKey, inDir: inbox, outDir: out });
      expect(result.failed).toEqual([]);
      const messages = await readDecryptedMessages(out);
      const tip = messages.find((m) => m.message === 'The first tip.')!;
      const follow = messages.find((m) => m.message === 'Here is the ledger.')!;
      expect(dirname(follow.folder)).toBe(dirname(tip.folder));
      expect(follow.meta.attachments).toEqual([{ name: 'ledger.bin', savedAs: 'attachments/ledger.bin', size: ledgerBytes.length, sha256: ledger.sha256, risky: false, metadataFound: [] }]);
      expect(sha256(await readFile(join(follow.folder, 'attachments', 'ledger.bin')))).toBe(ledger.sha256);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });

  it('refuses a file another message already took, or named twice, and stores nothing', async () => {
    const before = (await listed(threadId)).length;
    await expectError(await followup(cookie, 'Again.', [ledger]), 422, 'bad-attachments');
    const photo = await upload('photo.bin', randomBytes(1000));
    await expectError(await followup(cookie, 'Twice.', [photo], [photo.blobId, photo.blobId]), 422, 'bad-attachments');
    expect((await listed(threadId)).length).toBe(before);
    // The refused follow-up left the upload open for a good one.
    expect(((await (await t.app.request(`/api/v1/uploads/${photo.blobId}`)).json()) as { complete: boolean }).complete).toBe(true);
  });

  it('refuses a follow-up without a session, or with more files than a tip may carry, before claiming anything', async () => {
    const before = (await listed(threadId)).length;
    const file = await upload('notes.bin', randomBytes(1000));
    await expectError(await followup(undefined, 'No session.', [file]), 401, 'not-logged-in');
    const tooMany = Array.from({ length: MAX_FILES + 1 }, () => file.blobId);
    await expectError(await followup(cookie, 'Too many.', [file], tooMany), 413, 'too-many-files');
    expect((await listed(threadId)).length).toBe(before);
    expect(((await (await t.app.request(`/api/v1/uploads/${file.blobId}`)).json()) as { complete: boolean }).complete).toBe(true);
  });
});
