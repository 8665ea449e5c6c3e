/**
 * `decrypt` and attachments, on the journalist's machine alone: a fetch
 * folder is written by hand (tip, its `.json`, its attachment blobs), as fetch
 * would leave it, and decrypt must file checked, safely named files, flag the
 * risky ones, report the hidden information still in them, and leave nothing
 * at all when a blob was altered or is not the file the tip describes.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { randomBytes, randomId, utf8 } from '../crypto/bytes.ts';
import { encryptToKeys } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { paddedFileSize } from '../crypto/file-padding.ts';
import { createFileKey } from '../crypto/file-session-key.ts';
import { encryptSegment, importSegmentKey, SEGMENT_BYTES } from '../crypto/segmented-envelope.ts';
import { encodeTipDocument, SEGMENTED_ENCRYPTION, type AttachmentRef } from '../crypto/tip-document.ts';
import { readDecryptedMessages } from './helpers/browser.ts';
import { exifSegment } from './helpers/exif-fixture.ts';

let root: string;
let key: openpgp.PrivateKey;
let publicKey: openpgp.PublicKey;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-attachments-'));
  const pair = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'J', email: 'j@example.org' }], format: 'object' });
  key = pair.privateKey;
  publicKey = pair.publicKey;
});
afterAll(() => rm(root, { recursive: true, force: true }));

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** The browser's hash (crypto/piece-hash.ts), computed independently here: SHA-256 over the 4 MiB pieces' SHA-256s. */
function pieceHash(bytes: Uint8Array): string {
  const digests: Buffer[] = [];
  for (let at = 0; at === 0 || at < bytes.length; at += 4 * 1024 * 1024) digests.push(createHash('sha256').update(bytes.subarray(at, at + 4 * 1024 * 1024)).digest());
  return createHash('sha256').update(Buffer.concat(digests)).digest('hex');
}

async function encryptFile(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(await encryptFileStream(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), [publicKey])).arrayBuffer());
}

type Attached = { name: string; type: string; bytes: Uint8Array; blob?: Uint8Array; claimedSha256?: string; hashFormat?: 'sha256-pieces'; encryption?: typeof SEGMENTED_ENCRYPTION };

/** What the browser now sends (crypto/segmented-envelope.ts): the file padded to its bucket, one message per 4 MiB, in order. */
async function encryptSegments(bytes: Uint8Array, keys = [publicKey]): Promise<Uint8Array[]> {
  const padded = new Uint8Array(paddedFileSize(bytes.length));
  padded.set(bytes);
  const segmentKey = await importSegmentKey(await createFileKey(keys));
  const segments: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < padded.length; at += SEGMENT_BYTES) segments.push(await encryptSegment(segmentKey, padded.subarray(at, at + SEGMENT_BYTES)));
  return segments;
}
const joined = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** A fetch folder with one tip and its attachments, as `fetch` writes it. Returns the folder and the tip id. */
async function fetchedTip(files: Attached[]): Promise<{ inbox: string; tipId: string }> {
  const inbox = join(root, `inbox-${randomId()}`);
  await mkdir(inbox);
  const tipId = randomId();
  const refs: AttachmentRef[] = [];
  const listed: { id: string; size: number }[] = [];
  for (const f of files) {
    const blobId = randomId();
    const blob = f.blob ?? (await encryptFile(f.bytes));
    await writeFile(join(inbox, `${blobId}.gpg`), blob);
    refs.push({ blobId, name: f.name, type: f.type, size: f.bytes.length, sha256: f.claimedSha256 ?? sha256(f.bytes), ...(f.hashFormat ? { hashFormat: f.hashFormat } : {}), ...(f.encryption ? { encryption: f.encryption } : {}) });
    listed.push({ id: blobId, size: blob.length });
  }
  const doc = encodeTipDocument({ type: 'tip', message: 'see the files', fields: {}, attachments: refs });
  await writeFile(join(inbox, `${tipId}.gpg`), await encryptToKeys(padToBucket(doc), [publicKey]));
  const summary = { id: tipId, receivedDay: '2026-11-28', via: 'browser', size: 4096, manifestVersion: 2, threadId: 'a'.repeat(64), kind: 'tip', seq: 1, attachments: listed };
  await writeFile(join(inbox, `${tipId}.json`), JSON.stringify(summary));
  return { inbox, tipId };
}

type Meta = { attachments: { name: string; savedAs: string; size: number; sha256: string; risky: boolean; metadataFound: string[] }[] };

describe('decrypt with attachments', () => {
  it('files checked attachments under safe names, flags risky ones and reports hidden information', async () => {
    const photo = new Uint8Array([0xff, 0xd8, ...exifSegment(), 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0x34, 0xff, 0xd9]);
    const pdf = utf8.encode('%PDF-1.4\n1 0 obj << /Title (Budget) /Author (Jane Source) >> endobj\ntrailer << /Info 1 0 R >>\n%%EOF\n');
    const { inbox } = await fetchedTip([
      { name: 'photo.jpg', type: 'image/jpeg', bytes: photo },
      { name: '../../.bashrc', type: 'text/plain', bytes: utf8.encode('alias ls=rm') },
      { name: 'invoice\u202Efdp.exe', type: 'application/octet-stream', bytes: randomBytes(3000) },
      { name: 'report.pdf', type: 'application/pdf', bytes: pdf },
      { name: 'report.pdf', type: 'application/pdf', bytes: utf8.encode('%PDF-1.4\n%%EOF\n') },
    ]);
    const out = join(root, 'read-ok');
    const lines: string[] = [];
    const result = await decryptTips({ key, inDir: inbox, outDir: out, log: (l) => lines.push(l) });
    // The blobs are opened with their tip, never as tips of their own.
    expect(result.failed).toEqual([]);
    expect(result.decrypted).toHaveLength(1);
    const [message] = await readDecryptedMessages(out);
    const { attachments } = message!.meta as unknown as Meta;
    expect(attachments.map((a) => [a.savedAs, a.risky])).toEqual([
      ['attachments/photo.jpg', false],
      ['attachments/bashrc', false],
      ['attachments/invoicefdp.exe', true],
      ['attachments/report.pdf', false],
      ['attachments/report (2).pdf', false],
    ]);
    expect(attachments[0]!.metadataFound).toEqual(expect.arrayContaining([expect.stringMatching(/^GPS position: 48\.858\d+, 2\.294\d+$/), 'Author: Jane Source']));
    expect(attachments[3]!.metadataFound).toEqual(['Author (PDF): Jane Source']);
    expect(attachments[4]!.metadataFound).toEqual([]);
    for (const a of attachments) expect(sha256(await readFile(join(message!.folder, a.savedAs)))).toBe(a.sha256);
    expect((await readdir(join(message!.folder, 'attachments'))).sort()).toEqual(['bashrc', 'invoicefdp.exe', 'photo.jpg', 'report (2).pdf', 'report.pdf']);
    // And the terminal says so.
    expect(lines.some((l) => l.includes('invoicefdp.exe is an executable, script or macro-enabled file'))).toBe(true);
    expect(lines.some((l) => l.includes('photo.jpg still carries hidden information: GPS position'))).toBe(true);
  });

  it('checks the 4 MiB piece hash that browsers now send (hashFormat sha256-pieces), and reports the plain SHA-256', async () => {
    const bytes = randomBytes(4 * 1024 * 1024 + 3); // two pieces, the second short
    const { inbox } = await fetchedTip([{ name: 'big.bin', type: '', bytes, hashFormat: 'sha256-pieces', claimedSha256: pieceHash(bytes) }]);
    const result = await decryptTips({ key, inDir: inbox, outDir: join(root, 'read-pieces') });
    expect(result.failed).toEqual([]);
    const [message] = await readDecryptedMessages(join(root, 'read-pieces'));
    const [a] = (message!.meta as unknown as Meta).attachments;
    expect(a!.sha256).toBe(sha256(bytes));
    expect(await readFile(join(message!.folder, a!.savedAs))).toEqual(Buffer.from(bytes));
    // The metadata scan of a 4 MiB file of noise takes tens of seconds on a busy machine.
  }, 180_000);

  it('leaves nothing when a blob was altered, or is not the file the tip describes, or is missing', async () => {
    const good = randomBytes(200_000);
    const good9 = randomBytes(9 * 1024 * 1024);
    const other9 = good9.slice();
    other9[5 * 1024 * 1024]! ^= 1;
    const altered = await encryptFile(good);
    altered[altered.length - 5_000]! ^= 0x01;
    const cases: [string, Attached[], RegExp][] = [
      ['altered', [{ name: 'a.bin', type: '', bytes: good, blob: altered }], /altered \(integrity check failed\)/],
      ['swapped', [{ name: 'b.bin', type: '', bytes: good, claimedSha256: sha256(randomBytes(10)) }], /is not the file the source sent/],
      // The tip says "piece hash" but carries the plain SHA-256: the formats are not interchangeable.
      ['plain hash claimed as piece hash', [{ name: 'e.bin', type: '', bytes: good, hashFormat: 'sha256-pieces' }], /is not the file the source sent/],
      // The piece hash of another file of the same size (one byte differs in the second piece).
      ['other file, piece hash', [{ name: 'f.bin', type: '', bytes: good9, hashFormat: 'sha256-pieces', claimedSha256: pieceHash(other9) }], /is not the file the source sent/],
      ['to another key', [{ name: 'c.bin', type: '', bytes: good, blob: await encryptOther(good) }], /not encrypted to your key/],
    ];
    for (const [label, files, reason] of cases) {
      const { inbox, tipId } = await fetchedTip(files);
      const out = join(root, `read-${label.replace(/\W/g, '-')}`);
      const result = await decryptTips({ key, inDir: inbox, outDir: out });
      expect(result.decrypted, label).toEqual([]);
      expect(result.failed, label).toEqual([{ id: tipId, reason: expect.stringMatching(reason) }]);
      // Not a byte of it: no message folder, no partial folder, no attachment.
      expect(await readdir(out, { recursive: true }), label).toEqual([]);
    }
    // A blob not fetched yet: the message waits for the next fetch, and says so.
    const { inbox, tipId } = await fetchedTip([{ name: 'd.bin', type: '', bytes: good }]);
    const blob = (await readdir(inbox)).find((n) => n.endsWith('.gpg') && !n.startsWith(tipId))!;
    await rm(join(inbox, blob));
    const result = await decryptTips({ key, inDir: inbox, outDir: join(root, 'read-missing') });
    expect(result.failed).toEqual([{ id: tipId, reason: expect.stringContaining('has not been fetched yet') }]);
  });
});

describe('decrypt with segmented attachments (one OpenPGP message per 4 MiB, made with WebCrypto)', () => {
  const seg = { hashFormat: 'sha256-pieces', encryption: SEGMENTED_ENCRYPTION } as const;

  it('joins the segments in order, cuts the padding and files the file the source sent', async () => {
    // 9 MiB + 5: padded to 10 MiB, so three segments, the last one 2 MiB.
    const bytes = randomBytes(9 * 1024 * 1024 + 5);
    const segments = await encryptSegments(bytes);
    expect(segments.length).toBe(3);
    const small = utf8.encode('a short note');
    const { inbox } = await fetchedTip([
      { name: 'big.bin', type: '', bytes, blob: joined(segments), claimedSha256: pieceHash(bytes), ...seg },
      { name: 'note.txt', type: 'text/plain', bytes: small, blob: joined(await encryptSegments(small)), claimedSha256: pieceHash(small), ...seg },
    ]);
    const result = await decryptTips({ key, inDir: inbox, outDir: join(root, 'read-segments') });
    expect(result.failed).toEqual([]);
    const [message] = await readDecryptedMessages(join(root, 'read-segments'));
    const [big, note] = (message!.meta as unknown as Meta).attachments;
    expect(big!.sha256).toBe(sha256(bytes));
    expect(sha256(await readFile(join(message!.folder, big!.savedAs)))).toBe(sha256(bytes));
    expect(await readFile(join(message!.folder, note!.savedAs), 'utf8')).toBe('a short note');
  }, 180_000);

  it('leaves nothing when a server reorders, drops, repeats, splices or alters segments', async () => {
    // Two full segments of different bytes, then the padding's segment.
    const bytes = randomBytes(8 * 1024 * 1024 + 100);
    const [s0, s1, s2] = await encryptSegments(bytes);
    const [o0] = await encryptSegments(randomBytes(8 * 1024 * 1024 + 100));
    const altered = s1!.slice();
    altered[altered.length - 1_000]! ^= 0x01;
    const oldStyle = await encryptFile(bytes);
    const claim = { name: 'x.bin', type: '', bytes, claimedSha256: pieceHash(bytes), ...seg };
    const cases: [string, Attached, RegExp][] = [
      ['reordered', { ...claim, blob: joined([s1!, s0!, s2!]) }, /is not the file the source sent/],
      ['last dropped', { ...claim, blob: joined([s0!, s1!]) }, /is not the file the source sent|padding/],
      ['repeated', { ...claim, blob: joined([s0!, s0!, s2!]) }, /is not the file the source sent/],
      // Another file's segment (to the same journalist) opens on its own: only the file's hash catches it.
      ['spliced from another file', { ...claim, blob: joined([o0!, s1!, s2!]) }, /is not the file the source sent/],
      ['altered', { ...claim, blob: joined([s0!, altered, s2!]) }, /altered \(integrity check failed\)/],
      ['trailing garbage', { ...claim, blob: joined([s0!, s1!, s2!, Uint8Array.of(0xc0, 0x01)]) }, /could not be decrypted/],
      // A tip from before segmenting names one message: a second one appended is refused, not joined.
      ['segment appended to a one-message attachment', { name: 'y.bin', type: '', bytes, blob: joined([oldStyle, s2!]) }, /holds 2 messages where its tip describes one/],
    ];
    for (const [label, file, reason] of cases) {
      const { inbox, tipId } = await fetchedTip([file]);
      const out = join(root, `read-seg-${label.replace(/\W/g, '-')}`);
      const result = await decryptTips({ key, inDir: inbox, outDir: out });
      expect(result.decrypted, label).toEqual([]);
      expect(result.failed, label).toEqual([{ id: tipId, reason: expect.stringMatching(reason) }]);
      expect(await readdir(out, { recursive: true }), label).toEqual([]);
    }
  }, 300_000);
});

async function encryptOther(bytes: Uint8Array): Promise<Uint8Array> {
  const { publicKey: other } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'o@example.org' }], format: 'object' });
  return new Uint8Array(await new Response(await encryptFileStream(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), [other])).arrayBuffer());
}
