/**
 * Decompression bombs: a tip and an attachment made the way an attacker would
 * (openpgp.js with zlib compression, 64 MiB of zeros in a few kilobytes),
 * encrypted to a journalist's real key. Decrypting either must refuse with
 * CompressedMessageError, without inflating the bomb (flat memory), while an
 * uncompressed message still opens.
 */
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CompressedMessageError, decryptWithKey, encryptToKeys } from '../crypto/envelope.ts';
import { decryptFileStream } from '../crypto/file-envelope.ts';

const BOMB = 64 * 1024 * 1024;
let priv: openpgp.PrivateKey;
let bomb: Uint8Array;

beforeAll(async () => {
  const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'J' }], format: 'object' });
  priv = privateKey;
  const out = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: new Uint8Array(BOMB), format: 'binary' }),
    encryptionKeys: privateKey.toPublic(),
    format: 'binary',
    config: { aeadProtect: false, preferredCompressionAlgorithm: openpgp.enums.compression.zlib },
  });
  bomb = out as Uint8Array;
}, 120_000);

describe('compressed packets are refused', () => {
  it('the bomb is small: the attacker sends kilobytes', () => {
    expect(bomb.length).toBeLessThan(1024 * 1024);
  });

  it('a tip that holds one is refused, in flat memory', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const started = Date.now();
    await expect(decryptWithKey(bomb, priv)).rejects.toBeInstanceOf(CompressedMessageError);
    const grew = process.memoryUsage().rss - before;
    console.log(`tip bomb: refused in ${Date.now() - started} ms, RSS grew ${(grew / 1048576).toFixed(1)} MiB`);
    expect(grew).toBeLessThan(BOMB / 2);
  });

  it('an attachment stream that holds one errors with CompressedMessageError, in flat memory', async () => {
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bomb.length; i += 4096) c.enqueue(bomb.subarray(i, i + 4096));
        c.close();
      },
    });
    let read = 0;
    const e = await (async () => {
      const plain = await decryptFileStream(source, priv);
      for await (const chunk of plain as unknown as AsyncIterable<Uint8Array>) read += chunk.length;
    })().then(
      () => undefined,
      (x: unknown) => x,
    );
    const grew = process.memoryUsage().rss - before;
    console.log(`attachment bomb: refused in ${Date.now() - started} ms after ${read} plaintext bytes, RSS grew ${(grew / 1048576).toFixed(1)} MiB`);
    expect(e).toBeInstanceOf(CompressedMessageError);
    expect(read).toBeLessThan(BOMB);
    expect(grew).toBeLessThan(BOMB / 2);
  });

  it('an uncompressed tip still opens', async () => {
    const text = new TextEncoder().encode('the files are in the basement');
    const ct = await encryptToKeys(text, [priv.toPublic()]);
    expect(await decryptWithKey(ct, priv)).toEqual(text);
  });
});
