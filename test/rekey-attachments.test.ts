/**
 * Re-keying attachments and reply copies, end to end with stock GnuPG. A, B
 * and C (keys made by gpg) get a tip with an attachment, and B replies, so
 * there is a newsroom copy of the reply. Then B replaces their key with B2 and
 * A leaves. `tipline journalist rekey`, run by B with the OLD key, makes the
 * attachment and the reply copy open with `gpg --decrypt` under B2 (and C),
 * and no longer under A's key, while the attachment's data packet stays byte
 * for byte what the source uploaded; only its head crossed the network.
 *
 * Attacker's side, through `app.request`: uploads that are not key packets
 * to exactly the desk's keys, a stale head hash and a path-traversal id are
 * refused, each leaving the blob byte-identical and no staging file behind;
 * `BlobStore.replace` keeps the old blob when its body fails half-way.
 *
 * In the `postgres` project the same runs on PostgreSQL (blobs as rows, read
 * through the blob store), plus two re-keys of one blob racing through two
 * app instances on one database. The file store's own tests (staging files,
 * the wipe seen through a hard link) and the storage-free crypto run once,
 * in the `sqlite` project.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, concatBytes, randomBytes, randomId } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, encryptionKeyIdOf, readPrivateKey, readPublicKey, type PrivateKey, type PublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { verifyManifest, type Manifest } from '../crypto/manifest.ts';
import { inspectEncryptedMessage, inspectMessageHead, readPacketSpans } from '../crypto/packets.ts';
import { padToBucket } from '../crypto/padding.ts';
import { rewrapMessageHead, rewrapSessionKey } from '../crypto/rekey.ts';
import { sealReply } from '../crypto/reply-box.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { rekeyTips } from '../client/journalist/rekey-tips.ts';
import { addJournalist, removeJournalist, replaceJournalistKey } from '../server/admin/newsroom.ts';
import { readDataDir } from '../server/data-dir.ts';
import { BlobRekeyError, BlobRekeying } from '../server/uploads/blob-rekey.ts';
import type { TiplineDb } from '../server/db/open-database.ts';
import { BlobChangedError, BlobPathError, ChunkTooLargeError } from '../server/uploads/blob-store.ts';
import { FileBlobStore } from '../server/uploads/file-blob-store.ts';
import { openBlobStore, type BlobStore } from '../server/uploads/blobs.ts';
import { RowBlobStore as PostgresBlobStore } from '../server/uploads/row-blob-store.ts';
import { makeGpgJournalistKeys, type GpgJournalistKey } from './helpers/gpg.ts';
import { makeNewsroom, ON_POSTGRES, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

type Who = 'A' | 'B' | 'B2' | 'C';
type GpgKey = GpgJournalistKey;

const REPLY = 'Merci. Können Sie mehr schicken? 请再发一些。';
/** Big enough for several partial-length chunks in the data packet. */
const FILE = randomBytes(300_000);

let workDir: string;
let inbox: string;
let newsroom: TestNewsroom;
let testApp: TestApp;
let server: ServerProcess;
let blobDir: string;
let blobs: BlobStore;
const keys = {} as Record<Who, GpgKey>;
const tokens = {} as Record<'A' | 'B' | 'C', string>;
let tokenFileB: string;
let blobId: string;
let replyId: string;
/** The attachment and the reply copy as the source and B sent them. */
let blobBefore: Uint8Array;
let copyBefore: Uint8Array;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();

function split(message: Uint8Array): { keyPackets: Uint8Array; data: Uint8Array } {
  const { dataPacket } = inspectEncryptedMessage(message);
  return { keyPackets: message.slice(0, dataPacket.start), data: message.slice(dataPacket.start) };
}

const readBlob = async (store: BlobStore, id: string) => new Uint8Array(await new Response(store.read(id)).arrayBuffer());
const storedBlob = () => readBlob(blobs, blobId);
const storedCopy = async () => new Uint8Array((await testApp.db.selectFrom('replies').select('copy').where('id', '=', replyId).executeTakeFirstOrThrow()).copy);
const stagingFiles = () => leftovers(testApp.db, blobDir);

/** What a replace left aside: staged content and chunks that belong to no blob (rows on both databases since migration 0008). */
async function leftovers(db: TiplineDb, _root: string): Promise<string[]> {
  const staged = await db.selectFrom('blob_staging').select('content').execute();
  const orphans = await db.selectFrom('blob_chunks').select('content').where('content', 'not in', db.selectFrom('blobs').select('content')).execute();
  return [...staged, ...orphans].map((r) => r.content);
}

/** Changes whenever the blob's content is swapped: the content key of its rows. */
async function blobVersion(id: string): Promise<string> {
  return (await testApp.db.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirstOrThrow()).content;
}

async function gpgOpens(who: Who, message: Uint8Array, label: string): Promise<Buffer> {
  const file = join(workDir, `${label}-${who}-${randomId()}.gpg`);
  await writeFile(file, message);
  return keys[who].home.decrypt(file);
}

async function latestManifest(): Promise<Manifest> {
  const dir = await readDataDir(newsroom.dataDir);
  return verifyManifest(await (await testApp.app.request('/api/v1/manifest')).json(), dir.newsroomPublicKey, { today: utcDay() });
}

async function manifestKeys(): Promise<PublicKey[]> {
  return Promise.all((await latestManifest()).recipients.map((r) => readPublicKey(r.publicKey)));
}

const auth = (token = tokens.B) => ({ authorization: `Bearer ${token}` });
const json = (method: string, body: unknown, token = tokens.B): RequestInit => ({
  method,
  headers: { ...auth(token), 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function request(path: string, init: RequestInit = { headers: auth() }): Promise<Response> {
  return testApp.app.request(path, init);
}

function rekeyCli(keyFile: string) {
  return runCli(['journalist', 'rekey', '--key', keyFile, '--server', server.url, '--token-file', tokenFileB, '--inbox', inbox]);
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tipline-rekey-blobs-'));
  inbox = join(workDir, 'inbox');
  Object.assign(keys, await makeGpgJournalistKeys(workDir, { A: 'ed25519', B: 'ed25519', B2: 'ed25519', C: 'ed25519' }));
  newsroom = await makeNewsroom();
  for (const who of ['A', 'B', 'C'] as const) {
    tokens[who] = (await addJournalist({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name: `Journalist ${who}`, armoredKey: keys[who].armoredPublic })).token;
  }
  tokenFileB = join(workDir, 'token-B');
  await writeFile(tokenFileB, `${tokens.B}\n`, { mode: 0o600 });
  testApp = await openTestApp(newsroom);
  blobDir = (await readDataDir(newsroom.dataDir)).blobDir;
  blobs = await openBlobStore(testApp.db, blobDir);

  // The source: one attachment, uploaded the way the browser does, and a tip naming it.
  const recipients = await manifestKeys();
  const blob = new Uint8Array(await new Response(await encryptFileStream(streamOf(FILE), recipients)).arrayBuffer());
  const created = await request('/api/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: blob.length }) });
  expect(created.status).toBe(201);
  blobId = ((await created.json()) as { id: string }).id;
  const put = await request(`/api/v1/uploads/${blobId}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob });
  expect(put.status).toBe(200);
  expect((await request(`/api/v1/uploads/${blobId}/complete`, { method: 'POST' })).status).toBe(200);
  const doc = encodeTipDocument({ type: 'tip', message: 'see the file', fields: {}, attachments: [{ blobId, name: 'f.bin', type: '', size: FILE.length, sha256: sha256(FILE) }] });
  const tip = await request('/api/v1/tips', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ciphertext: base64.encode(await encryptToKeys(padToBucket(doc), recipients)), lookupSecret: base64.encode(randomBytes(32)), attachments: [blobId] }),
  });
  expect(tip.status).toBe(201);

  // B replies: a box for the source and the newsroom's copy, to the desk's keys as `reply` makes it.
  const listed = (await (await request('/api/v1/journalist/tips')).json()) as { tips: { threadId: string }[] };
  const padded = padToBucket(encodeTipDocument({ type: 'reply', message: REPLY, fields: {} }));
  const reply = await request(
    `/api/v1/journalist/threads/${listed.tips[0]!.threadId}/replies`,
    json('POST', { box: base64.encode(sealReply(padded, x25519.getPublicKey(x25519.utils.randomSecretKey()))), copy: base64.encode(await encryptToKeys(padded, recipients)) }),
  );
  expect(reply.status).toBe(201);
  replyId = ((await reply.json()) as { id: string }).id;

  server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await testApp?.close();
  await Promise.all(Object.values(keys).map((k) => k.home.cleanup()));
  await newsroom?.cleanup();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('rekey of attachments and reply copies', () => {
  it('starts with the attachment and the reply copy encrypted to A, B and C, fetched by B', async () => {
    await mkdir(inbox);
    const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFileB, '--out', inbox]);
    expect(fetched, fetched.stderr).toMatchObject({ code: 0 });
    expect(fetched.stdout).toContain('1 new attachment(s) fetched');
    blobBefore = await storedBlob();
    copyBefore = await storedCopy();
    for (const [label, message] of [['blob', blobBefore], ['copy', copyBefore]] as const) {
      expect(inspectEncryptedMessage(message).recipientKeyIds.sort(), label).toEqual([keys.A.keyId, keys.B.keyId, keys.C.keyId].sort());
    }
    expect((await gpgOpens('A', blobBefore, 'before')).equals(FILE)).toBe(true);
    expect(decodeTipDocument(new Uint8Array(await gpgOpens('A', copyBefore, 'before'))).message).toBe(REPLY);
    expect((await readFile(join(inbox, `${blobId}.gpg`))).equals(blobBefore)).toBe(true);
  });

  it("re-keys both to B2 and C with B's old key, after B's key is replaced and A is removed", async () => {
    await replaceJournalistKey({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist B', armoredKey: keys.B2.armoredPublic });
    await removeJournalist({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist A' });
    // An unfinished download of the old bytes: resumed against the re-keyed blob, it would mix the two.
    await writeFile(join(inbox, `${blobId}.gpg.partial`), blobBefore.subarray(0, 1000));
    const r = await rekeyCli(keys.B.secretFile);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('1 tip(s) re-keyed; 0 already current; 0 not openable with this key; 0 failed.');
    expect(r.stdout).toContain('1 attachment(s) re-keyed; 0 already current; 0 not openable with this key; 0 failed.');
    expect(r.stdout).toContain('1 reply copy(ies) re-keyed; 0 already current; 0 not openable with this key; 0 failed.');
    // The tip, the attachment and the reply copy in the inbox.
    expect(r.stdout).toContain(`3 copy(ies) in ${inbox} updated`);
    await expect(stat(join(inbox, `${blobId}.gpg.partial`))).rejects.toThrow();
  });

  it('leaves the attachment with new key packets in front of the very same data packet, its size recorded', async () => {
    const after = await storedBlob();
    expect(inspectEncryptedMessage(after).recipientKeyIds.sort()).toEqual([keys.B2.keyId, keys.C.keyId].sort());
    expect(sha256(split(after).data)).toBe(sha256(split(blobBefore).data));
    expect(split(after).keyPackets).not.toEqual(split(blobBefore).keyPackets);
    const listed = (await (await request('/api/v1/journalist/tips')).json()) as { tips: { attachments: { id: string; size: number }[] }[] };
    expect(listed.tips[0]!.attachments).toEqual([{ id: blobId, size: after.length }]);
    expect(await stagingFiles()).toEqual([]);
  });

  it.each(['B2', 'C'] as const)('opens the attachment and the reply copy with gpg under %s', async (who) => {
    expect((await gpgOpens(who, await storedBlob(), 'after')).equals(FILE)).toBe(true);
    expect(decodeTipDocument(new Uint8Array(await gpgOpens(who, await storedCopy(), 'after'))).message).toBe(REPLY);
  });

  it.each(['A', 'B'] as const)("no longer opens either with %s's key", async (who) => {
    await expect(gpgOpens(who, await storedBlob(), 'after')).rejects.toThrow();
    await expect(gpgOpens(who, await storedCopy(), 'after')).rejects.toThrow();
  });

  it('keeps the reply copy\'s data packet and updates the inbox copies, which B2 decrypts and fetch accepts', async () => {
    expect(sha256(split(await storedCopy()).data)).toBe(sha256(split(copyBefore).data));
    expect((await readFile(join(inbox, `${blobId}.gpg`))).equals(await storedBlob())).toBe(true);
    expect((await readFile(join(inbox, `${replyId}.gpg`))).equals(await storedCopy())).toBe(true);
    const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFileB, '--out', inbox]);
    expect(fetched, fetched.stderr).toMatchObject({ code: 0 });
    expect(fetched.stdout).toContain('0 new attachment(s) fetched; 1 already there.');
    const read = await runCli(['journalist', 'decrypt', '--key', keys.B2.secretFile, '--in', inbox, '--out', join(workDir, 'read')]);
    expect(read, read.stderr).toMatchObject({ code: 0 });
    const attachment = (await readdir(join(workDir, 'read'), { recursive: true })).find((p) => p.endsWith('f.bin'))!;
    expect((await readFile(join(workDir, 'read', attachment))).equals(FILE)).toBe(true);
  });

  it('changes nothing when run again', async () => {
    const [blob, copy] = [await storedBlob(), await storedCopy()];
    const version = await blobVersion(blobId);
    const r = await rekeyCli(keys.B.secretFile);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('0 attachment(s) re-keyed; 1 already current; 0 not openable with this key; 0 failed.');
    expect(r.stdout).toContain('0 reply copy(ies) re-keyed; 1 already current; 0 not openable with this key; 0 failed.');
    expect(sha256(await storedBlob())).toBe(sha256(blob));
    expect(await blobVersion(blobId)).toBe(version);
    expect(await storedCopy()).toEqual(copy);
  });
});

describe('the server takes only key packets to exactly the current keys, for the head it gave out', () => {
  let b2: PrivateKey;
  let head: Uint8Array;
  let blob: Uint8Array;

  beforeAll(async () => {
    b2 = await readPrivateKey(await readFile(keys.B2.secretFile, 'utf8'));
    const res = await request(`/api/v1/journalist/blobs/${blobId}/head`);
    expect(res.status).toBe(200);
    head = new Uint8Array(await res.arrayBuffer());
    blob = await storedBlob();
  });

  const putKeyPackets = (keyPackets: Uint8Array, previous = sha256(inspectMessageHead(head).keyPackets), id = blobId) =>
    request(`/api/v1/journalist/blobs/${id}/key-packets`, json('PUT', { keyPackets: base64.encode(keyPackets), previousKeyPacketsSha256: previous }));

  async function expectRefused(res: Response, status: number, code: string): Promise<void> {
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(sha256(await storedBlob())).toBe(sha256(blob));
    expect(await stagingFiles()).toEqual([]);
  }

  it('gives out only the head: the key packets and the start of the data packet', () => {
    expect(head.length).toBeLessThan(1024);
    expect(Buffer.from(blob.subarray(0, head.length)).equals(head)).toBe(true);
    expect(inspectMessageHead(head).recipientKeyIds.sort()).toEqual([keys.B2.keyId, keys.C.keyId].sort());
  });

  it('refuses an upload that brings its own data packet (not-key-packets)', async () => {
    const forged = await encryptToKeys(new Uint8Array(200), [keys.B2.publicKey, keys.C.publicKey]);
    await expectRefused(await putKeyPackets(forged), 422, 'not-key-packets');
    // Bigger than key packets for the desk's keys can be: refused before it is even read whole.
    await expectRefused(await putKeyPackets(await encryptToKeys(new Uint8Array(5000), [keys.B2.publicKey, keys.C.publicKey])), 413, 'too-large');
    // Even the right key packets with a data packet behind them.
    const keyPackets = await rewrapMessageHead(head, b2, [keys.B2.publicKey, keys.C.publicKey]);
    await expectRefused(await putKeyPackets(concatBytes(keyPackets, split(forged).data)), 422, 'not-key-packets');
  });

  it('refuses key packets that add a key outside the desk, or drop a current one (wrong-recipients)', async () => {
    await expectRefused(await putKeyPackets(await rewrapMessageHead(head, b2, [keys.B2.publicKey, keys.C.publicKey, keys.A.publicKey])), 422, 'wrong-recipients');
    await expectRefused(await putKeyPackets(await rewrapMessageHead(head, b2, [keys.B2.publicKey])), 422, 'wrong-recipients');
  });

  it('refuses garbage and a literal-data packet (not-key-packets)', async () => {
    await expectRefused(await putKeyPackets(randomBytes(300)), 422, 'not-key-packets');
    const literal = await openpgp.createMessage({ binary: new Uint8Array(64) });
    await expectRefused(await putKeyPackets(literal.write() as Uint8Array), 422, 'not-key-packets');
    // The right key packets, but with old-format headers: the head reader takes only new-format
    // ones, so splicing these in would make the attachment impossible to re-key again.
    const rewrapped = await rewrapMessageHead(head, b2, [keys.B2.publicKey, keys.C.publicKey]);
    const oldFormat = concatBytes(
      ...readPacketSpans(rewrapped).map((p) => {
        const body = rewrapped.subarray(p.bodyStart, p.end);
        // Old-format header: tag in bits 5–2, length type 1 (two length bytes).
        return concatBytes(new Uint8Array([0x80 | (p.tag << 2) | 1, body.length >> 8, body.length & 0xff]), body);
      }),
    );
    expect(inspectEncryptedMessage(concatBytes(oldFormat, split(blob).data)).recipientKeyIds.sort()).toEqual([keys.B2.keyId, keys.C.keyId].sort());
    await expectRefused(await putKeyPackets(oldFormat), 422, 'not-key-packets');
  });

  it('refuses new key packets for a head that is not the current one (blob-changed)', async () => {
    const keyPackets = await rewrapMessageHead(head, b2, [keys.B2.publicKey, keys.C.publicKey]);
    await expectRefused(await putKeyPackets(keyPackets, sha256(split(blobBefore).keyPackets)), 409, 'blob-changed');
    await expectRefused(await putKeyPackets(keyPackets, 'f'.repeat(64)), 409, 'blob-changed');
  });

  it('refuses an id that tries to leave the blob folder, and a bad body (404, 400)', async () => {
    const keyPackets = await rewrapMessageHead(head, b2, [keys.B2.publicKey, keys.C.publicKey]);
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '..%252F..%252Fetc%252Fpasswd', `..%2F${blobId}`, 'A'.repeat(22)]) {
      await expectRefused(await putKeyPackets(keyPackets, undefined, id), 404, 'not-found');
      await expectRefused(await request(`/api/v1/journalist/blobs/${id}/head`), 404, 'not-found');
    }
    await expectRefused(await request(`/api/v1/journalist/blobs/${blobId}/key-packets`, json('PUT', { keyPackets: base64.encode(keyPackets) })), 400, 'bad-request');
  });

  it("refuses A's token: 401", async () => {
    const res = await request(`/api/v1/journalist/blobs/${blobId}/head`, { headers: auth(tokens.A) });
    expect(res.status).toBe(401);
  });

  it('takes a re-key to the keys it already has, which keeps every packet (changed: false), and C still opens it', async () => {
    const keyPackets = await rewrapMessageHead(head, b2, [keys.C.publicKey, keys.B2.publicKey]);
    // Keys that stay keep their packets (crypto/key-packet-swap.ts): nothing joins, so nothing changes.
    expect(Buffer.from(keyPackets).equals(inspectMessageHead(head).keyPackets)).toBe(true);
    const res = await putKeyPackets(keyPackets);
    expect(res.status).toBe(200);
    const after = await storedBlob();
    expect(await res.json()).toMatchObject({ id: blobId, size: after.length, dataSha256: sha256(split(blob).data), changed: false });
    expect(Buffer.from(after).equals(blob)).toBe(true);
    expect((await gpgOpens('C', after, 'again')).equals(FILE)).toBe(true);
    expect(await stagingFiles()).toEqual([]);
  });

  // Several instances are a PostgreSQL deployment (on SQLite there is one), and each has its own in-memory busy guard.
  it.runIf(ON_POSTGRES)('lets one of two re-keys racing through two instances on one database win; the other is refused and the blob opens with the winner\'s keys', async () => {
    // Two different valid swaps need a key that joins (the staying keys' packets are kept): D, for this test only.
    const d = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'd@example.org' }], format: 'object' });
    const journalistD = { dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist D' };
    await addJournalist({ ...journalistD, armoredKey: d.publicKey.armor() });
    const second = await openTestApp(newsroom);
    try {
      const current = new Uint8Array(await (await request(`/api/v1/journalist/blobs/${blobId}/head`)).arrayBuffer());
      const before = await storedBlob();
      const previousKeyPacketsSha256 = sha256(inspectMessageHead(current).keyPackets);
      const rewraps = await Promise.all([0, 1].map(() => rewrapMessageHead(current, b2, [keys.C.publicKey, keys.B2.publicKey, d.publicKey])));
      expect(rewraps[0]).not.toEqual(rewraps[1]);
      const responses = await Promise.all(
        [testApp, second].map((instance, i) =>
          instance.app.request(`/api/v1/journalist/blobs/${blobId}/key-packets`, json('PUT', { keyPackets: base64.encode(rewraps[i]!), previousKeyPacketsSha256 })),
        ),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = responses.findIndex((r) => r.status === 200);
      expect(((await responses[1 - winner]!.json()) as { error: { code: string } }).error.code).toBe('blob-changed');
      const after = await storedBlob();
      expect(Buffer.from(after).equals(concatBytes(rewraps[winner]!, split(before).data))).toBe(true);
      expect(await responses[winner]!.json()).toMatchObject({ size: after.length, changed: true });
      for (const who of ['B2', 'C'] as const) expect((await gpgOpens(who, after, 'race')).equals(FILE)).toBe(true);
      const listed = (await (await request('/api/v1/journalist/tips')).json()) as { tips: { attachments: { id: string; size: number }[] }[] };
      expect(listed.tips[0]!.attachments).toEqual([{ id: blobId, size: after.length }]);
      expect(await stagingFiles()).toEqual([]);
    } finally {
      await second.close();
      await removeJournalist(journalistD);
    }
  });

  describe('for reply copies', () => {
    let copy: Uint8Array;
    beforeAll(async () => {
      copy = await storedCopy();
    });
    const putCopy = (bytes: Uint8Array) => request(`/api/v1/journalist/replies/${replyId}/copy`, json('PUT', { copy: base64.encode(bytes) }));
    async function expectCopyRefused(res: Response, status: number, code: string): Promise<void> {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
      expect(await storedCopy()).toEqual(copy);
    }

    it('refuses another data packet, a key outside the desk, a dropped key and garbage', async () => {
      const fresh = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'reply', message: 'forged', fields: {} })), [keys.B2.publicKey, keys.C.publicKey]);
      await expectCopyRefused(await putCopy(fresh), 422, 'data-changed');
      await expectCopyRefused(await putCopy(await rewrapSessionKey(copy, b2, [keys.B2.publicKey, keys.C.publicKey, keys.A.publicKey])), 422, 'wrong-recipients');
      await expectCopyRefused(await putCopy(await rewrapSessionKey(copy, b2, [keys.C.publicKey])), 422, 'wrong-recipients');
      await expectCopyRefused(await putCopy(randomBytes(700)), 422, 'not-encrypted');
      await expectCopyRefused(await request(`/api/v1/journalist/replies/${'A'.repeat(22)}/copy`, json('PUT', { copy: base64.encode(copy) })), 404, 'not-found');
    });

    it('takes a correct re-key', async () => {
      const again = await rewrapSessionKey(copy, b2, [keys.C.publicKey, keys.B2.publicKey]);
      expect((await putCopy(again)).status).toBe(200);
      expect(await storedCopy()).toEqual(again);
    });
  });
});

// The file store's own: what a replace does to the old file's blocks, seen through a second name for them.
describe.skipIf(ON_POSTGRES)('FileBlobStore.replace (the file store only: runs once, in the sqlite project)', () => {
  let root: string;
  let files: FileBlobStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tipline-blob-replace-'));
    files = await FileBlobStore.open(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('swaps in the whole new content, and overwrites the start of the old file before its blocks are freed', async () => {
    const old = randomBytes(200_000);
    const id = randomId();
    await files.write(id, 0, streamOf(old), { maxBytes: old.length });
    const oldFile = join(root, `${id}-old-link`);
    await link(files.path(id), oldFile);
    const next = randomBytes(3 * 1024 * 1024 + 17);
    expect(await files.replace(id, streamOf(next), { maxBytes: next.length })).toBe(next.length);
    expect((await readFile(files.path(id))).equals(next)).toBe(true);
    const left = await readFile(oldFile);
    expect(left.subarray(0, 64 * 1024).equals(Buffer.alloc(64 * 1024))).toBe(true);
    expect(left.subarray(64 * 1024).equals(old.subarray(64 * 1024))).toBe(true);
    await rm(oldFile);
    expect(await leftovers(testApp.db, root)).toEqual([]);
  });
});

// On the store of the run: files in a folder of their own, or rows in the newsroom's PostgreSQL database.
describe('BlobStore.replace and BlobRekeying (RowBlobStore)', () => {
  let root: string;
  let store: BlobStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tipline-blob-replace-'));
    store = new PostgresBlobStore(testApp.db); // the row store, on either database
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  async function blobWith(bytes: Uint8Array): Promise<string> {
    const id = randomId();
    await store.write(id, 0, streamOf(bytes), { maxBytes: bytes.length });
    return id;
  }
  const leftoversHere = () => leftovers(testApp.db, root);

  /** Some bytes, then an error: a connection or disk that fails half-way. */
  function failingAfter(bytes: number): ReadableStream<Uint8Array> {
    let sent = false;
    return new ReadableStream({
      pull(controller) {
        if (sent) return controller.error(new Error('the body broke off'));
        sent = true;
        controller.enqueue(randomBytes(bytes));
      },
    });
  }

  it('swaps in the whole new content', async () => {
    const id = await blobWith(randomBytes(200_000));
    const next = randomBytes(3 * 1024 * 1024 + 17);
    expect(await store.replace(id, streamOf(next), { maxBytes: next.length })).toBe(next.length);
    expect(Buffer.from(await readBlob(store, id)).equals(next)).toBe(true);
    expect(await store.size(id)).toBe(next.length);
    expect(await leftoversHere()).toEqual([]);
  });

  it('keeps the old blob, and leaves nothing staged, when the body fails half-way or is too long', async () => {
    const old = randomBytes(2 * 1024 * 1024);
    const id = await blobWith(old);
    await expect(store.replace(id, failingAfter(1024 * 1024 + 5), { maxBytes: 10 * 1024 * 1024 })).rejects.toThrow('the body broke off');
    await expect(store.replace(id, streamOf(randomBytes(5000)), { maxBytes: 4999 })).rejects.toBeInstanceOf(ChunkTooLargeError);
    expect(Buffer.from(await readBlob(store, id)).equals(old)).toBe(true);
    expect(await leftoversHere()).toEqual([]);
  });

  it('refuses a blob that does not exist, and a path outside the store', async () => {
    const id = randomId();
    await expect(store.replace(id, streamOf(randomBytes(10)), { maxBytes: 10 })).rejects.toThrow();
    expect(await store.size(id)).toBe(0);
    expect(await store.ids()).not.toContain(id);
    await expect(store.replace('../../etc/passwd', streamOf(randomBytes(10)), { maxBytes: 10 })).rejects.toBeInstanceOf(BlobPathError);
    expect(await leftoversHere()).toEqual([]);
  });

  it('swaps only while the blob still begins with the bytes given as ifStartsWith, else throws BlobChangedError', async () => {
    const old = randomBytes(100_000);
    const id = await blobWith(old);
    const next = randomBytes(50_000);
    const stale = old.slice(0, 300);
    stale[299]! ^= 1;
    await expect(store.replace(id, streamOf(next), { maxBytes: next.length, ifStartsWith: stale })).rejects.toBeInstanceOf(BlobChangedError);
    expect(Buffer.from(await readBlob(store, id)).equals(old)).toBe(true);
    expect(await leftoversHere()).toEqual([]);
    expect(await store.replace(id, streamOf(next), { maxBytes: next.length, ifStartsWith: old.slice(0, 300) })).toBe(next.length);
    expect(Buffer.from(await readBlob(store, id)).equals(next)).toBe(true);
  });

  async function messageBlob(): Promise<{ id: string; message: Uint8Array; keyPackets: Uint8Array; data: Uint8Array }> {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'x@example.org' }], format: 'object' });
    const message = new Uint8Array(await new Response(await encryptFileStream(streamOf(randomBytes(100_000)), [publicKey])).arrayBuffer());
    return { id: await blobWith(message), message, ...split(message) };
  }

  it('refuses to swap when the data packet read for the copy is not the one hashed before (blob-changed)', async () => {
    const { id, message, keyPackets, data } = await messageBlob();
    // A store whose second read of the data (the copy) returns other bytes: a disk going bad, or a writer behind our back.
    let reads = 0;
    const flaky = Object.create(store) as BlobStore;
    flaky.read = (blobIdArg: string, start = 0) => {
      reads++;
      if (reads < 2) return store.read(blobIdArg, start);
      const altered = data.slice();
      altered[altered.length - 100]! ^= 1;
      return streamOf(altered);
    };
    const rekeying = new BlobRekeying(flaky);
    const error = await rekeying.replaceKeyPackets(id, { keyPackets: keyPackets.slice().reverse(), previousKeyPacketsSha256: sha256(keyPackets) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobRekeyError);
    expect((error as BlobRekeyError).code).toBe('blob-changed');
    expect(Buffer.from(await readBlob(store, id)).equals(message)).toBe(true);
    expect(await leftoversHere()).toEqual([]);
  });

  it('refuses to swap when the key packets were replaced between its check and the swap (blob-changed), keeping the other re-key', async () => {
    const { id, keyPackets, data } = await messageBlob();
    // A re-key elsewhere (another instance) swaps in its key packets while this one copies the data packet.
    const theirs = keyPackets.slice().reverse();
    let swapped = false;
    const racing = Object.create(store) as BlobStore;
    racing.replace = async (blobIdArg, body, o) => {
      if (!swapped) {
        swapped = true;
        await store.replace(blobIdArg, streamOf(concatBytes(theirs, data)), { maxBytes: theirs.length + data.length });
      }
      return store.replace(blobIdArg, body, o);
    };
    const mine = randomBytes(keyPackets.length);
    const error = await new BlobRekeying(racing).replaceKeyPackets(id, { keyPackets: mine, previousKeyPacketsSha256: sha256(keyPackets) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobRekeyError);
    expect((error as BlobRekeyError).code).toBe('blob-changed');
    expect(Buffer.from(await readBlob(store, id)).equals(concatBytes(theirs, data))).toBe(true);
    expect(await leftoversHere()).toEqual([]);
  });

  it('refuses to swap, too, when the other re-key kept these key packets and only added one after them (blob-changed)', async () => {
    const { id, keyPackets, data } = await messageBlob();
    // Keys that stay keep their packets, so two re-keys that add a key both begin with the old key packets.
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'y@example.org' }], format: 'object' });
    const addedBy = async () => (await openpgp.encryptSessionKey({ data: randomBytes(32), algorithm: 'aes256', encryptionKeys: publicKey, format: 'binary' })) as Uint8Array;
    const theirs = concatBytes(keyPackets, await addedBy());
    const mine = concatBytes(keyPackets, await addedBy());
    const racing = Object.create(store) as BlobStore;
    racing.replace = async (blobIdArg, body, o) => {
      // This re-key's copy is done; then the other one swaps, before this one takes the blob's lock.
      const copied = new Uint8Array(await new Response(body).arrayBuffer());
      await store.replace(blobIdArg, streamOf(concatBytes(theirs, data)), { maxBytes: theirs.length + data.length });
      return store.replace(blobIdArg, streamOf(copied), o);
    };
    const error = await new BlobRekeying(racing).replaceKeyPackets(id, { keyPackets: mine, previousKeyPacketsSha256: sha256(keyPackets) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobRekeyError);
    expect((error as BlobRekeyError).code).toBe('blob-changed');
    expect(Buffer.from(await readBlob(store, id)).equals(concatBytes(theirs, data))).toBe(true);
    expect(await leftoversHere()).toEqual([]);
  });
});

describe("desks: an attachment and a reply copy are re-keyed to their conversation's desk, by its journalists only", () => {
  type Person = 'Ana' | 'Bo' | 'Cy';
  let room: TestNewsroom;
  let app: TestApp;
  let live: ServerProcess;
  let dir: string;
  const people = {} as Record<Person, { token: string; privateKey: PrivateKey; publicKey: PublicKey; keyId: string }>;
  let deskBlob: string;
  let deskReply: string;

  let roomBlobs: BlobStore;
  const blobOnDisk = () => readBlob(roomBlobs, deskBlob);
  const copyInDb = async () => new Uint8Array((await app.db.selectFrom('replies').select('copy').where('id', '=', deskReply).executeTakeFirstOrThrow()).copy);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tipline-rekey-desks-'));
    room = await makeNewsroom();
    for (const [name, desks] of [['Ana', ['Community']], ['Bo', ['Investigations']], ['Cy', []]] as const) {
      const pair = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: `${name.toLowerCase()}@example.org` }], format: 'object' });
      // This newsroom's database by name: DATABASE_URL names the file's first newsroom's (helpers/newsroom.ts).
      const { token } = await addJournalist({ dataDir: room.dataDir, databaseUrl: room.databaseUrl, signingKeyFile: room.signingKeyFile, name, armoredKey: pair.publicKey.armor(), desks: [...desks] });
      people[name] = { token, privateKey: pair.privateKey, publicKey: pair.publicKey, keyId: await encryptionKeyIdOf(pair.publicKey) };
    }
    app = await openTestApp(room);
    roomBlobs = await openBlobStore(app.db, (await readDataDir(room.dataDir, room)).blobDir);
    const community = [people.Ana.publicKey, people.Cy.publicKey];
    const blob = new Uint8Array(await new Response(await encryptFileStream(streamOf(randomBytes(20_000)), community)).arrayBuffer());
    const created = await app.app.request('/api/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: blob.length, desk: 'community' }) });
    expect(created.status).toBe(201);
    deskBlob = ((await created.json()) as { id: string }).id;
    await app.app.request(`/api/v1/uploads/${deskBlob}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob });
    expect((await app.app.request(`/api/v1/uploads/${deskBlob}/complete`, { method: 'POST' })).status).toBe(200);
    const doc = encodeTipDocument({ type: 'tip', message: 'for Community', fields: {}, attachments: [{ blobId: deskBlob, name: 'x.bin', type: '', size: 20_000, sha256: '0'.repeat(64) }] });
    const tip = await app.app.request('/api/v1/tips', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: base64.encode(await encryptToKeys(padToBucket(doc), community)), lookupSecret: base64.encode(randomBytes(32)), desk: 'community', attachments: [deskBlob] }),
    });
    expect(tip.status).toBe(201);
    const listed = (await (await app.app.request('/api/v1/journalist/tips', { headers: auth(people.Ana.token) })).json()) as { tips: { threadId: string }[] };
    const padded = padToBucket(encodeTipDocument({ type: 'reply', message: 'thanks', fields: {} }));
    const reply = await app.app.request(
      `/api/v1/journalist/threads/${listed.tips[0]!.threadId}/replies`,
      json('POST', { box: base64.encode(sealReply(padded, x25519.getPublicKey(x25519.utils.randomSecretKey()))), copy: base64.encode(await encryptToKeys(padded, community)) }, people.Ana.token),
    );
    expect(reply.status).toBe(201);
    deskReply = ((await reply.json()) as { id: string }).id;
    live = await startServerProcess(room.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
  }, 120_000);

  afterAll(async () => {
    await live?.stop();
    await app?.close();
    await room?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers 404 to a journalist of another desk, for the head, new key packets and the reply copy", async () => {
    const [blob, copy] = [await blobOnDisk(), await copyInDb()];
    const { keyPackets } = split(blob);
    expect((await app.app.request(`/api/v1/journalist/blobs/${deskBlob}/head`, { headers: auth(people.Bo.token) })).status).toBe(404);
    const put = await app.app.request(`/api/v1/journalist/blobs/${deskBlob}/key-packets`, json('PUT', { keyPackets: base64.encode(keyPackets), previousKeyPacketsSha256: sha256(keyPackets) }, people.Bo.token));
    expect(put.status).toBe(404);
    expect((await app.app.request(`/api/v1/journalist/replies/${deskReply}/copy`, json('PUT', { copy: base64.encode(copy) }, people.Bo.token))).status).toBe(404);
    expect(await blobOnDisk()).toEqual(blob);
    expect(await copyInDb()).toEqual(copy);
  });

  it('re-keys both to what is left of Community once Cy leaves, and leaves them alone for Bo', async () => {
    await removeJournalist({ dataDir: room.dataDir, databaseUrl: room.databaseUrl, signingKeyFile: room.signingKeyFile, name: 'Cy' });
    for (const who of ['Bo', 'Ana'] as const) {
      const inboxDir = join(dir, `inbox-${who}`);
      await fetchTips({ server: live.url, token: people[who].token, outDir: inboxDir });
      const r = await rekeyTips({ server: live.url, token: people[who].token, key: people[who].privateKey, inboxDir });
      const seen = who === 'Ana' ? 1 : 0;
      expect(r.attachments, who).toMatchObject({ rekeyed: seen ? [deskBlob] : [], alreadyCurrent: 0, notOpenable: [], failed: [] });
      expect(r.replies, who).toMatchObject({ rekeyed: seen ? [deskReply] : [], alreadyCurrent: 0, notOpenable: [], failed: [] });
    }
    expect(inspectEncryptedMessage(await blobOnDisk()).recipientKeyIds).toEqual([people.Ana.keyId]);
    expect(inspectEncryptedMessage(await copyInDb()).recipientKeyIds).toEqual([people.Ana.keyId]);
  });
});

// No storage in these: they run once, in the sqlite project.
describe.skipIf(ON_POSTGRES)('crypto: re-keying from a head (storage-independent: runs once, in the sqlite project)', () => {
  const makeKey = async (email: string) =>
    (await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email }], format: 'object' })) as { privateKey: PrivateKey; publicKey: PublicKey };
  const fileMessage = async (bytes: Uint8Array, to: PublicKey[]) => new Uint8Array(await new Response(await encryptFileStream(streamOf(bytes), to)).arrayBuffer());

  it('wraps the session key from the key packets and 32 bytes of data; the splice opens with the new key only', async () => {
    const [a, b] = await Promise.all([makeKey('a@example.org'), makeKey('b@example.org')]);
    const plaintext = randomBytes(70_000);
    const message = await fileMessage(plaintext, [a.publicKey]);
    const { keyPackets, data } = split(message);
    const head = message.subarray(0, keyPackets.length + 32);
    const fresh = await rewrapMessageHead(head, a.privateKey, [b.publicKey]);
    const spliced = concatBytes(fresh, data);
    const opened = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: spliced }), decryptionKeys: b.privateKey, format: 'binary' });
    expect(Buffer.from(opened.data as Uint8Array).equals(plaintext)).toBe(true);
    await expect(openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: spliced }), decryptionKeys: a.privateKey, format: 'binary' })).rejects.toThrow();
  });

  it('refuses a head whose data is not the key packets\' (wrong-session-key), a head cut short, and a key it does not name', async () => {
    const [a, b] = await Promise.all([makeKey('a@example.org'), makeKey('b@example.org')]);
    const one = await fileMessage(randomBytes(1000), [a.publicKey]);
    const other = await fileMessage(randomBytes(1000), [a.publicKey]);
    const spliced = concatBytes(split(one).keyPackets, split(other).data.subarray(0, 32));
    await expect(rewrapMessageHead(spliced, a.privateKey, [b.publicKey])).rejects.toMatchObject({ name: 'RekeyError', code: 'wrong-session-key' });
    await expect(rewrapMessageHead(one.subarray(0, split(one).keyPackets.length + 10), a.privateKey, [b.publicKey])).rejects.toMatchObject({ name: 'NotEncryptedError' });
    await expect(rewrapMessageHead(one.subarray(0, 200), b.privateKey, [b.publicKey])).rejects.toMatchObject({ name: 'RekeyError', code: 'not-for-this-key' });
  });
});
