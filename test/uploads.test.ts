/**
 * The attachment upload protocol (server/uploads/upload-api.ts) against a real
 * app and data directory: resuming after a chunk is cut off, every refusal
 * leaving nothing behind, tips claiming uploads (or not), the cleanup job, and
 * ids that try to reach outside blobs/. The journalist's end runs too: fetch
 * resumes a half-downloaded blob and decrypt checks the file against the tip.
 *
 * Limits are shrunk (256 KiB chunks, 4 MiB files) so that several chunks cost
 * little; the protocol is the same at 8 MiB and 2 GiB.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { serve } from '@hono/node-server';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { base64, randomBytes, randomId } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { decryptFileStream, encryptFileStream } from '../crypto/file-envelope.ts';
import { verifyManifest, type SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { createFileKey } from '../crypto/file-session-key.ts';
import { encryptSegment, importSegmentKey } from '../crypto/segmented-envelope.ts';
import { encodeTipDocument, type AttachmentRef } from '../crypto/tip-document.ts';
import { readDataDir } from '../server/data-dir.ts';
import { openBlobStore, type BlobStore } from '../server/uploads/blobs.ts';
import { UploadStore } from '../server/uploads/upload-store.ts';
import { readDecryptedMessages } from './helpers/browser.ts';
import { addTestJournalist, makeNewsroom, ON_POSTGRES, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';

const CHUNK = 256 * 1024;
const MAX_FILE = 4 * 1024 * 1024;

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let blobDir: string;
/** The app's blob store (files on SQLite, rows on PostgreSQL), to look at what it holds. */
let blobs: BlobStore;
let deskKeys: openpgp.PublicKey[];

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const auth = { headers: { authorization: '' } };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  await addTestJournalist(newsroom, 'Bo');
  auth.headers.authorization = `Bearer ${ana.token}`;
  t = await openTestApp(newsroom, { limits: { maxChunkBytes: CHUNK, maxFileBytes: MAX_FILE, maxAttachmentBytesPerTip: 2 * MAX_FILE } });
  blobDir = (await readDataDir(newsroom.dataDir)).blobDir;
  blobs = await openBlobStore(t.db, blobDir);
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  const manifest = verifyManifest(signed, (await readDataDir(newsroom.dataDir)).newsroomPublicKey, { today: utcDay() });
  deskKeys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
});

afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

async function encryptFile(plaintext: Uint8Array, keys = deskKeys): Promise<Uint8Array> {
  const stream = await encryptFileStream(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), keys);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function createUpload(bytes: number): Promise<string> {
  const res = await t.app.request('/api/v1/uploads', json({ bytes }));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; chunkBytes: number };
  expect(body.chunkBytes).toBe(CHUNK);
  return body.id;
}

function put(id: string, offset: number, body: Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    t.app.request(`/api/v1/uploads/${id}?offset=${offset}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', ...headers },
      body: body as BodyInit,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit),
  );
}

async function state(id: string): Promise<{ received: number; complete: boolean }> {
  const res = await t.app.request(`/api/v1/uploads/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { received: number; complete: boolean };
}

async function blobSize(id: string): Promise<number | undefined> {
  return (await blobs.ids()).includes(id) ? blobs.size(id) : undefined;
}

/** Chunks `bytes` from `from`, then asks for the check. Returns /complete's response. */
async function uploadRest(id: string, bytes: Uint8Array, from = 0): Promise<Response> {
  for (let at = from; at < bytes.length; at += CHUNK) {
    const res = await put(id, at, bytes.subarray(at, at + CHUNK));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: Math.min(at + CHUNK, bytes.length) });
  }
  return t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' });
}

async function uploadWhole(ciphertext: Uint8Array): Promise<string> {
  const id = await createUpload(ciphertext.length + 4096);
  expect((await uploadRest(id, ciphertext)).status).toBe(200);
  return id;
}

async function expectError(res: Response, status: number, code?: string): Promise<void> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.message.length).toBeGreaterThan(5);
  if (code) expect(body.error.code).toBe(code);
}

async function postTip(attachments: string[], refs: AttachmentRef[] = []): Promise<Response> {
  const doc = encodeTipDocument({ type: 'tip', message: `tip with ${attachments.length} file(s)`, fields: {}, attachments: refs });
  const ciphertext = await encryptToKeys(padToBucket(doc), deskKeys);
  return t.app.request('/api/v1/tips', json({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)), attachments }));
}

async function tipIds(): Promise<string[]> {
  const res = await t.app.request('/api/v1/journalist/tips?limit=500', auth);
  return ((await res.json()) as { tips: { id: string }[] }).tips.map((tip) => tip.id);
}

/** A request body that sends `bytes` and then breaks, like a Tor circuit dropping mid-chunk. */
function cutOff(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
    },
    pull(controller) {
      controller.error(new Error('circuit dropped'));
    },
  });
}

describe('resuming an upload', () => {
  it('goes on from the server\'s count after a chunk is cut off; the tip claims it and the journalist gets the same file', async () => {
    const plaintext = randomBytes(700 * 1024);
    const ciphertext = await encryptFile(plaintext);
    const id = await createUpload(ciphertext.length + 1024 * 1024);

    expect((await put(id, 0, ciphertext.subarray(0, CHUNK))).status).toBe(200);
    // The second chunk breaks off halfway: the server keeps nothing of it.
    const broken = await put(id, CHUNK, cutOff(ciphertext.slice(CHUNK, CHUNK + CHUNK / 2)));
    expect(broken.status).toBe(503);
    expect(await state(id)).toEqual({ received: CHUNK, complete: false });
    expect(await blobSize(id)).toBe(CHUNK);

    // Resume where GET says, not from zero.
    const { received } = await state(id);
    const done = await uploadRest(id, ciphertext, received);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ complete: true });
    expect(await state(id)).toEqual({ received: ciphertext.length, complete: true });

    const ref: AttachmentRef = { blobId: id, name: 'evidence.bin', type: 'application/octet-stream', size: plaintext.length, sha256: sha256(plaintext) };
    const tip = await postTip([id], [ref]);
    expect(tip.status).toBe(201);
    const { receipt } = (await tip.json()) as { receipt: string };
    // Claimed: no longer an open upload, and listed with its tip.
    await expectError(await t.app.request(`/api/v1/uploads/${id}`), 404, 'no-upload');
    const listed = (await (await t.app.request('/api/v1/journalist/tips?limit=500', auth)).json()) as { tips: { id: string; attachments: { id: string; size: number }[] }[] };
    expect(listed.tips.find((x) => x.id === receipt)!.attachments).toEqual([{ id, size: ciphertext.length }]);

    // The ciphertext the journalist API hands out decrypts to the file, byte for byte.
    const blob = await t.app.request(`/api/v1/journalist/blobs/${id}`, auth);
    expect(blob.status).toBe(200);
    const opened = await decryptFileStream(blob.body!, ana.privateKey);
    expect(sha256(new Uint8Array(await new Response(opened).arrayBuffer()))).toBe(ref.sha256);
    const ranged = await t.app.request(`/api/v1/journalist/blobs/${id}`, { headers: { ...auth.headers, range: 'bytes=1000-' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(Buffer.from(ciphertext.subarray(1000)))).toBe(true);

    // And the journalist's tools: fetch resumes a half download, decrypt checks and files it.
    const server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    try {
      await new Promise((ok) => server.once('listening', ok));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const inbox = join(newsroom.root, 'inbox');
      await mkdir(inbox, { recursive: true });
      await writeFile(join(inbox, `${id}.gpg.partial`), ciphertext.subarray(0, 300_000));
      const lines: string[] = [];
      const fetched = await fetchTips({ server: url, token: ana.token, outDir: inbox, log: (l) => lines.push(l) });
      expect(fetched.attachments).toEqual({ fetched: 1, alreadyHad: 0 });
      expect(lines.some((l) => l.includes(`resuming attachment ${id} at byte 300000`))).toBe(true);
      expect(Buffer.from(await readFile(join(inbox, `${id}.gpg`))).equals(Buffer.from(ciphertext))).toBe(true);
      expect((await readdir(inbox)).filter((n) => n.endsWith('.partial'))).toEqual([]);

      const out = join(newsroom.root, 'read');
      const result = await decryptTips({ key: ana.privateKey, inDir: inbox, outDir: out });
      expect(result.failed).toEqual([]);
      const message = (await readDecryptedMessages(out)).find((m) => m.meta.id === receipt)!;
      expect(message.meta.attachments).toEqual([{ name: 'evidence.bin', savedAs: 'attachments/evidence.bin', size: plaintext.length, sha256: ref.sha256, risky: false, metadataFound: [] }]);
      expect(sha256(await readFile(join(message.folder, 'attachments', 'evidence.bin')))).toBe(ref.sha256);
      // A second fetch has it already.
      expect((await fetchTips({ server: url, token: ana.token, outDir: inbox })).attachments.alreadyHad).toBeGreaterThanOrEqual(1);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });

  it('a stale chunk that fails late does not cut off what arrived after it', async () => {
    const ciphertext = await encryptFile(randomBytes(CHUNK + 1000));
    const id = await createUpload(ciphertext.length + 4096);
    // A: its connection hangs after a few bytes (a Tor circuit that died without a word)…
    let breakA!: () => void;
    const bodyA = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(ciphertext.slice(0, 1000));
        breakA = () => controller.error(new Error('circuit dropped'));
      },
    });
    const a = put(id, 0, bodyA);
    await new Promise((r) => setTimeout(r, 50));
    // …so the client asks again and sends the chunk anew; only then does A fail.
    const b = put(id, 0, ciphertext.subarray(0, CHUNK));
    await new Promise((r) => setTimeout(r, 50));
    breakA();
    expect((await a).status).toBe(503);
    expect((await b).status).toBe(200);
    const { received } = await state(id);
    expect(received).toBe(CHUNK);
    expect(await blobSize(id)).toBe(received);
    expect((await uploadRest(id, ciphertext, received)).status).toBe(200);
  });
});

describe('over a real socket', () => {
  // Under `tipline serve` a chunk is read from the Node request stream itself
  // (upload-api.ts, requestBody), not from the Web stream app.request gives.
  it('stores chunks byte for byte, and keeps nothing of one that is too long or whose connection dies', async () => {
    const server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((ok) => server.once('listening', ok));
    const port = (server.address() as AddressInfo).port;
    /** A PUT sent by hand: `parts` are written one by one, then the request ends, or its socket is destroyed. */
    const send = (id: string, offset: number, parts: Uint8Array[], o: { length?: number; destroyAfter?: boolean } = {}) =>
      new Promise<{ status: number; body: string } | 'cut'>((resolve) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: `/api/v1/uploads/${id}?offset=${offset}`, agent: false, headers: { 'content-type': 'application/octet-stream', ...(o.length === undefined ? {} : { 'content-length': o.length }) } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
          res.on('error', () => resolve('cut'));
        });
        req.on('error', () => resolve('cut'));
        for (const part of parts) req.write(part);
        if (o.destroyAfter) setTimeout(() => req.destroy(), 100);
        else req.end();
      });
    try {
      const ciphertext = await encryptFile(randomBytes(CHUNK + 5000));
      const id = await createUpload(ciphertext.length + 4096);
      const first = ciphertext.subarray(0, CHUNK);
      // In pieces, as a slow circuit delivers it.
      expect(await send(id, 0, [first.subarray(0, 1000), first.subarray(1000, 70_000), first.subarray(70_000)], { length: CHUNK })).toEqual({ status: 200, body: JSON.stringify({ received: CHUNK }) });

      // Longer than a chunk may be, sent without a length: refused while it streams.
      const tooLong = await send(id, CHUNK, [randomBytes(CHUNK), randomBytes(1024)]);
      expect(tooLong === 'cut' || tooLong.status === 413).toBe(true);
      expect(await state(id)).toEqual({ received: CHUNK, complete: false });
      expect(await blobSize(id)).toBe(CHUNK);

      // Half a chunk, then the connection dies.
      expect(await send(id, CHUNK, [ciphertext.subarray(CHUNK, CHUNK + 2000)], { length: ciphertext.length - CHUNK, destroyAfter: true })).toBe('cut');
      // The server notices the dead connection on its own time; a loaded machine may take a few seconds.
      for (let i = 0; i < 250 && (await blobSize(id)) !== CHUNK; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await state(id)).toEqual({ received: CHUNK, complete: false });
      expect(await blobSize(id)).toBe(CHUNK);

      const rest = ciphertext.subarray(CHUNK);
      expect(await send(id, CHUNK, [rest], { length: rest.length })).toEqual({ status: 200, body: JSON.stringify({ received: ciphertext.length }) });
      expect(Buffer.from(await new Response(blobs.read(id)).arrayBuffer()).equals(Buffer.from(ciphertext))).toBe(true);
      expect((await t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(200);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });
});

describe('refusals leave nothing behind', () => {
  it('refuses a chunk out of order, for an unknown upload, or past the declared size or chunk limit', async () => {
    const id = await createUpload(300 * 1024);
    expect((await put(id, 0, randomBytes(100 * 1024))).status).toBe(200);
    const before = { state: await state(id), size: await blobSize(id) };
    expect(before).toEqual({ state: { received: 100 * 1024, complete: false }, size: 100 * 1024 });
    const unchanged = async () => expect({ state: await state(id), size: await blobSize(id) }).toEqual(before);

    // Out of order: a repeat of the first chunk, and one that skips ahead.
    await expectError(await put(id, 0, randomBytes(1024)), 409, 'wrong-offset');
    await unchanged();
    await expectError(await put(id, 200 * 1024, randomBytes(1024)), 409, 'wrong-offset');
    await unchanged();
    // Past the size the upload declared (300 KiB): refused, and the bytes that did arrive are cut away.
    await expectError(await put(id, 100 * 1024, randomBytes(250 * 1024)), 413, 'too-large');
    await unchanged();
    // Unknown upload.
    const unknown = randomId();
    await expectError(await put(unknown, 0, randomBytes(1024)), 404, 'no-upload');
    expect(await blobSize(unknown)).toBeUndefined();

    // Past the chunk limit, declared up front or only counted as it streams.
    const big = await createUpload(MAX_FILE);
    await expectError(await put(big, 0, randomBytes(CHUNK + 1), { 'content-length': String(CHUNK + 1) }), 413, 'too-large');
    await expectError(await put(big, 0, new Blob([randomBytes(CHUNK + 1) as Uint8Array<ArrayBuffer>]).stream()), 413, 'too-large');
    expect(await state(big)).toEqual({ received: 0, complete: false });
    expect(await blobSize(big)).toBe(0);
    // And an upload may not declare more than a file may be.
    await expectError(await t.app.request('/api/v1/uploads', json({ bytes: MAX_FILE + 1 })), 413, 'file-too-large');
  });

  it('refuses at /complete what is not one OpenPGP message to the desk, and a tip naming it', async () => {
    const random = await createUpload(64 * 1024);
    expect((await put(random, 0, randomBytes(50_000))).status).toBe(200);
    await expectError(await t.app.request(`/api/v1/uploads/${random}/complete`, { method: 'POST' }), 422, 'not-encrypted');
    expect(await state(random)).toEqual({ received: 50_000, complete: false });
    expect(await blobSize(random)).toBe(50_000);

    const { publicKey: outsider } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'eve@example.org' }], format: 'object' });
    const wrongKeys = await encryptFile(randomBytes(10_000), [outsider]);
    const wrong = await createUpload(64 * 1024);
    expect((await put(wrong, 0, wrongKeys)).status).toBe(200);
    await expectError(await t.app.request(`/api/v1/uploads/${wrong}/complete`, { method: 'POST' }), 422, 'wrong-recipients');
    expect(await state(wrong)).toEqual({ received: wrongKeys.length, complete: false });
    // Nor may an outsider ride along with the desk's keys.
    const extra = await encryptFile(randomBytes(10_000), [...deskKeys, outsider]);
    const extraId = await createUpload(64 * 1024);
    expect((await put(extraId, 0, extra)).status).toBe(200);
    await expectError(await t.app.request(`/api/v1/uploads/${extraId}/complete`, { method: 'POST' }), 422, 'wrong-recipients');

    const before = await tipIds();
    for (const id of [random, wrong, extraId]) await expectError(await postTip([id]), 422, 'bad-attachments');
    expect(await tipIds()).toEqual(before);
  });

  it('accepts segments (one message per 4 MiB, crypto/segmented-envelope.ts) only when every one is to exactly the desk', async () => {
    const segments = async (sizes: number[], keys = deskKeys) => {
      const key = await importSegmentKey(await createFileKey(keys));
      return Promise.all(sizes.map((n) => encryptSegment(key, randomBytes(n))));
    };
    const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
    const good = await segments([100_000, 100_000, 5000]);
    const ok = await uploadWhole(concat(good));
    expect((await state(ok)).complete).toBe(true);
    expect((await postTip([ok])).status).toBe(201);

    const { publicKey: outsider } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'eve@example.org' }], format: 'object' });
    const [outsiderSegment] = await segments([5000], [...deskKeys, outsider]);
    const tinySegments = await segments(Array.from({ length: 40 }, () => 10));
    const cases: [string, Uint8Array, string][] = [
      // The first segments are right; a later one also opens for Eve.
      ['a later segment to an extra key', concat([good[0]!, good[1]!, outsiderSegment!]), 'wrong-recipients'],
      ['bytes after the last segment', concat([...good, randomBytes(300)]), 'not-encrypted'],
      ['a cut last segment', concat(good).subarray(0, concat(good).length - 10), 'not-encrypted'],
      // 40 messages in a few KiB: no page makes that (one per 4 MiB), and walking millions of them would tie up the check.
      ['many tiny segments', concat(tinySegments), 'not-encrypted'],
    ];
    for (const [label, bytes, code] of cases) {
      const id = await createUpload(bytes.length + 4096);
      const res = await uploadRest(id, bytes);
      await expectError(res, 422, code);
      expect((await state(id)).complete, label).toBe(false);
      await expectError(await postTip([id]), 422, 'bad-attachments');
    }
  });

  it('refuses a tip naming an unfinished or unknown upload, and stores nothing', async () => {
    const ciphertext = await encryptFile(randomBytes(CHUNK + 10));
    const unfinished = await createUpload(ciphertext.length + 4096);
    expect((await put(unfinished, 0, ciphertext.subarray(0, CHUNK))).status).toBe(200);
    const finished = await uploadWhole(await encryptFile(randomBytes(1000)));
    const before = await tipIds();

    await expectError(await postTip([unfinished]), 422, 'bad-attachments');
    await expectError(await postTip([randomId()]), 422, 'bad-attachments');
    // One bad id spoils the tip: the good upload is not claimed either.
    await expectError(await postTip([finished, randomId()]), 422, 'bad-attachments');
    await expectError(await postTip([finished, finished]), 422, 'bad-attachments');
    expect(await tipIds()).toEqual(before);
    expect(await state(unfinished)).toEqual({ received: CHUNK, complete: false });
    expect((await state(finished)).complete).toBe(true);

    // The unfinished one can still be finished and sent.
    expect((await uploadRest(unfinished, ciphertext, CHUNK)).status).toBe(200);
    expect((await postTip([unfinished, finished])).status).toBe(201);
  });
});

describe('cleaning up', () => {
  it('sweeps uploads no tip claimed in time, keeps claimed ones, and deleting a tip deletes its blob', async () => {
    const stale = await uploadWhole(await encryptFile(randomBytes(2000)));
    const fresh = await uploadWhole(await encryptFile(randomBytes(2000)));
    const claimed = await uploadWhole(await encryptFile(randomBytes(2000)));
    const tip = await postTip([claimed]);
    expect(tip.status).toBe(201);
    const { receipt } = (await tip.json()) as { receipt: string };

    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const id of [stale, claimed]) {
      await t.db.updateTable('blobs').set({ written_day: utcDay(twoDaysAgo) }).where('id', '=', id).execute();
    }
    const janitor = new UploadStore(t.db, await openBlobStore(t.db, blobDir));
    expect(await janitor.sweep(24 * 3600 * 1000)).toBeGreaterThanOrEqual(1);

    expect(await blobSize(stale)).toBeUndefined();
    await expectError(await t.app.request(`/api/v1/uploads/${stale}`), 404, 'no-upload');
    expect(await blobSize(fresh)).toBeGreaterThan(0);
    expect((await state(fresh)).complete).toBe(true);
    expect(await blobSize(claimed)).toBeGreaterThan(0);

    const deleted = await t.app.request(`/api/v1/journalist/tips/${receipt}`, { method: 'DELETE', ...auth });
    expect(deleted.status).toBe(200);
    expect(await blobSize(claimed)).toBeUndefined();
    await expectError(await t.app.request(`/api/v1/journalist/blobs/${claimed}`, auth), 404);
  });
});

describe('ids that try to leave blobs/', () => {
  it('answers 404 and touches nothing outside blobs/', async () => {
    const configFile = join(newsroom.dataDir, 'config.json');
    const snapshot = async () => {
      const files = (await readdir(newsroom.dataDir, { recursive: true })).filter((f) => !/tipline\.db/.test(f)).sort();
      const sizes = await Promise.all(files.map((f) => stat(join(newsroom.dataDir, f)).then((s) => `${f}:${s.isFile() ? s.size : 'dir'}`)));
      return { sizes, config: sha256(await readFile(configFile)) };
    };
    const before = await snapshot();
    const hostile = ['..%2F..%2Fconfig.json', '..%2Fconfig.json', '%2E%2E%2F%2E%2E%2Fconfig.json', '..%5C..%5Cconfig.json', '....................%2Fconfig', encodeURIComponent('/etc/passwd')];
    for (const id of hostile) {
      await expectError(await t.app.request(`/api/v1/uploads/${id}`), 404);
      await expectError(await t.app.request(`/api/v1/uploads/${id}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: 'overwrite' }), 404);
      await expectError(await t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' }), 404);
      await expectError(await t.app.request(`/api/v1/journalist/blobs/${id}`, auth), 404);
    }
    expect(await snapshot()).toEqual(before);
  });
});
