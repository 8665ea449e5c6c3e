/**
 * crypto/segmented-envelope.ts: segments made with WebCrypto's AES-CBC and
 * SHA-1 alone must be real OpenPGP messages. Stock `gpg --decrypt` (keys made by
 * gpg itself, RSA-4096 and cv25519) opens each segment on its own, openpgp.js
 * opens them too, the strict packet reader accepts the joined attachment, and
 * a flipped bit anywhere in a segment fails its integrity check.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey } from '../crypto/envelope.ts';
import { decryptFileStream } from '../crypto/file-envelope.ts';
import { inspectSegmentedFile } from '../crypto/packets.ts';
import { createFileKey } from '../crypto/file-session-key.ts';
import { encryptSegment, importSegmentKey, SEGMENT_BYTES } from '../crypto/segmented-envelope.ts';
import { makeGpgJournalistKeys, type GpgJournalistKey } from './helpers/gpg.ts';

let dir: string;
let keys: Record<'R' | 'E', GpgJournalistKey>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tipline-segments-'));
  keys = await makeGpgJournalistKeys(dir, { R: 'rsa4096', E: 'ed25519' });
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(keys ?? {}).map((k) => k.home.cleanup()));
  await rm(dir, { recursive: true, force: true });
});

function randomPlaintext(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65536)));
  return bytes;
}

async function readStream(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(parts);
    parts.push(value);
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('segmented SEIPD v1 from WebCrypto', () => {
  // Lengths around every block and length-header boundary: empty, under a block, the MDC
  // straddling blocks, the 2- and 5-byte length forms, and a full segment.
  const lengths = [0, 1, 15, 16, 17, 100, 165, 166, 191, 8000, 8383, 8384, 65_537, SEGMENT_BYTES];

  it('stock gpg --decrypt opens every segment under each key on its own, and openpgp.js does too', async () => {
    const fileKey = await createFileKey([keys.R.publicKey, keys.E.publicKey]);
    const segmentKey = await importSegmentKey(fileKey);
    const secret = await readPrivateKey(await keys.E.home.exportSecret(keys.E.email));
    for (const length of lengths) {
      const plaintext = randomPlaintext(length);
      const message = await encryptSegment(segmentKey, plaintext);
      const file = join(dir, `segment-${length}.gpg`);
      await writeFile(file, message);
      for (const k of [keys.R, keys.E]) {
        const opened = await k.home.decrypt(file);
        expect(opened.length, `gpg, ${length} bytes`).toBe(length);
        expect(sha(opened), `gpg, ${length} bytes`).toBe(sha(plaintext));
      }
      const viaOpenpgp = await readStream(await decryptFileStream(new Blob([message as Uint8Array<ArrayBuffer>]).stream(), secret));
      expect(sha(viaOpenpgp)).toBe(sha(plaintext));
    }
  }, 120_000);

  it('joined segments pass the strict packet reader, one segment per message, each naming the same keys', async () => {
    const fileKey = await createFileKey([keys.R.publicKey, keys.E.publicKey]);
    const segmentKey = await importSegmentKey(fileKey);
    const parts = await Promise.all([SEGMENT_BYTES, SEGMENT_BYTES, 1234].map((n) => encryptSegment(segmentKey, randomPlaintext(n))));
    const joined = Buffer.concat(parts);
    const segments = await inspectSegmentedFile(async (at, n) => joined.subarray(at, at + n), joined.length);
    expect(segments.map((s) => s.start)).toEqual([0, parts[0]!.length, parts[0]!.length + parts[1]!.length]);
    const wanted = [keys.R.keyId, keys.E.keyId].sort();
    for (const s of segments) expect([...s.recipientKeyIds].sort()).toEqual(wanted);
    // A stray byte after the last segment, or a cut one, is refused.
    await expect(inspectSegmentedFile(async (at, n) => Buffer.concat([joined, Buffer.of(0xc0)]).subarray(at, at + n), joined.length + 1)).rejects.toThrow();
    await expect(inspectSegmentedFile(async (at, n) => joined.subarray(at, at + n), joined.length - 1)).rejects.toThrow(/truncated/);
  }, 60_000);

  it('two segments of the same plaintext differ (fresh random prefix each), and an altered byte fails gpg and openpgp.js', async () => {
    const fileKey = await createFileKey([keys.E.publicKey]);
    const segmentKey = await importSegmentKey(fileKey);
    const plaintext = randomPlaintext(100_000);
    const a = await encryptSegment(segmentKey, plaintext);
    const b = await encryptSegment(segmentKey, plaintext);
    expect(a.length).toBe(b.length);
    const body = fileKey.keyPackets.length + 7; // after the SEIPD header and version byte
    expect(Buffer.from(a.subarray(body + 16)).equals(Buffer.from(b.subarray(body + 16)))).toBe(false);
    const secret = await readPrivateKey(await keys.E.home.exportSecret(keys.E.email));
    // In the data, in the last block (the MDC), and in the quick-check prefix.
    for (const at of [body + 5000, a.length - 3, body + 17]) {
      const altered = a.slice();
      altered[at]! ^= 0x01;
      const file = join(dir, `altered-${at}.gpg`);
      await writeFile(file, altered);
      await expect(keys.E.home.decrypt(file), `gpg, byte ${at}`).rejects.toThrow();
      await expect(readStream(await decryptFileStream(new Blob([altered]).stream(), secret)), `openpgp.js, byte ${at}`).rejects.toThrow();
    }
  }, 60_000);

  it('the buffer a segment travels in (whole, to the page) holds nothing beyond the message: no spare keystream', async () => {
    const fileKey = await createFileKey([keys.E.publicKey]);
    const segmentKey = await importSegmentKey(fileKey);
    // Lengths whose last block is partly used, and one odd key-packet length for the alignment slack.
    for (const n of [1, 15, 1000, 65_537, SEGMENT_BYTES - 3]) {
      const message = await encryptSegment(segmentKey, new Uint8Array(n)); // zero plaintext: spare keystream would show as non-zero bytes
      const whole = new Uint8Array(message.buffer);
      expect(message.byteOffset, `n=${n}`).toBeLessThan(4);
      expect(whole.subarray(0, message.byteOffset).every((b) => b === 0), `before, n=${n}`).toBe(true);
      expect(whole.subarray(message.byteOffset + message.length).every((b) => b === 0), `after, n=${n}`).toBe(true);
      expect(whole.length - message.byteOffset - message.length, `n=${n}`).toBeLessThan(16);
    }
  });

  it('the plain-gpg recipe in docs/protocol.md joins the segments of a fetched attachment', async () => {
    const fileKey = await createFileKey([keys.R.publicKey, keys.E.publicKey]);
    const segmentKey = await importSegmentKey(fileKey);
    const file = randomPlaintext(2 * SEGMENT_BYTES + 777);
    const padded = new Uint8Array(3 * SEGMENT_BYTES); // as if the bucket were 12 MiB
    padded.set(file);
    const parts = await Promise.all([0, 1, 2].map((i) => encryptSegment(segmentKey, padded.subarray(i * SEGMENT_BYTES, (i + 1) * SEGMENT_BYTES))));
    const attachment = join(dir, 'Abc123.gpg');
    await writeFile(attachment, Buffer.concat(parts));
    // Exactly the recipe's lines, with the file name and the size from meta.json filled in.
    const recipe = [
      'set -eu',
      'f=Abc123.gpg; size=' + file.length,
      'start=0',
      'gpg --homedir "$(mktemp -d)" --batch --list-packets "$f" 2>/dev/null |',
      "  sed -n 's/^# off=\\([0-9]*\\) .* tag=18 hlen=\\([0-9]*\\) plen=\\([0-9]*\\).*/\\1 \\2 \\3/p' > segments.txt",
      'while read -r off hlen plen; do',
      '  end=$((off + hlen + plen))',
      '  tail -c +$((start + 1)) "$f" | head -c $((end - start)) | gpg --batch --decrypt >> padded.bin',
      '  start=$end',
      'done < segments.txt',
      'head -c "$size" padded.bin > file.bin',
    ].join('\n');
    await promisify(execFile)('bash', ['-c', recipe], { cwd: dir, env: { ...process.env, GNUPGHOME: keys.E.home.home } });
    expect(sha(await readFile(join(dir, 'file.bin')))).toBe(sha(file));
    expect((await readFile(join(dir, 'segments.txt'), 'utf8')).trim().split('\n')).toHaveLength(3);
  }, 120_000);

  it('checks its inputs at the door', async () => {
    const fileKey = await createFileKey([keys.E.publicKey]);
    const segmentKey = await importSegmentKey(fileKey);
    await expect(encryptSegment(segmentKey, new Uint8Array(SEGMENT_BYTES + 1))).rejects.toThrow(RangeError);
    await expect(encryptSegment(segmentKey, 'text' as unknown as Uint8Array)).rejects.toThrow(TypeError);
    await expect(createFileKey([])).rejects.toThrow(RangeError);
    await expect(importSegmentKey({ sessionKey: new Uint8Array(16), keyPackets: fileKey.keyPackets })).rejects.toThrow();
    expect(openpgp.enums.symmetric.aes256).toBe(9);
  });
});
