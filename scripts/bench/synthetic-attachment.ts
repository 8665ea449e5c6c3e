/**
 * A large attachment's ciphertext without spending a minute encrypting it:
 * real key packets (from encrypting a short message to the journalist keys)
 * followed by one SEIPD v1 packet in 1 MiB partial-length chunks of random
 * bytes. It has exactly the framing the upload check (inspectEncryptedFile in
 * crypto/packets.ts) reads, so the server accepts it as it would a browser's;
 * only decrypting it would fail, and the upload path never decrypts.
 *
 * @example
 * const size = await writeSyntheticAttachment(file, 1024 ** 3, keys.publicKeys);
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { encryptToKeys, type PublicKey } from '../../crypto/envelope.ts';
import { inspectEncryptedMessage, PacketTag } from '../../crypto/packets.ts';

const CHUNK = 1024 * 1024;
/** New-format partial length octet for 2^20 bytes (RFC 4880 §4.2.2.4: 224 + 20). */
const PARTIAL_1MIB = 224 + 20;
/** SEIPD v1's smallest body: version, one cipher block of prefix, its repeat, the MDC. */
const MIN_BODY = 1 + 16 + 2 + 22;

/** Writes `totalBytes` bytes (at least a minimal message) to `file` and returns the size. */
export async function writeSyntheticAttachment(file: string, totalBytes: number, keys: PublicKey[]): Promise<number> {
  const real = await encryptToKeys(new Uint8Array(1), keys);
  const keyPackets = real.subarray(0, inspectEncryptedMessage(real).dataPacket.start);
  const block = new Uint8Array(CHUNK + 64);
  randomFillSync(block);
  block[0] = 1; // the SEIPD version, wherever a body starts
  const out = await open(file, 'w', 0o600);
  try {
    let size = 0;
    const write = async (bytes: Uint8Array) => {
      await out.write(bytes);
      size += bytes.length;
    };
    await write(keyPackets);
    await write(new Uint8Array([0xc0 | PacketTag.SEIPD]));
    // Partial chunks while one more still leaves room for a final chunk, which is definite-length.
    while (totalBytes - size > CHUNK + 1 + 5 + MIN_BODY) {
      await write(new Uint8Array([PARTIAL_1MIB]));
      await write(block.subarray(0, CHUNK));
    }
    const last = Math.max(MIN_BODY, totalBytes - size - 5);
    await write(new Uint8Array([255, (last >>> 24) & 255, (last >>> 16) & 255, (last >>> 8) & 255, last & 255]));
    await write(block.subarray(0, last));
    return size;
  } finally {
    await out.close();
  }
}
