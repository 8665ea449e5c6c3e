/**
 * Segmented attachment encryption with native crypto only, for Tor Browser at
 * "Safer" (no JIT, no WebAssembly), where openpgp.js's AES-CFB and SHA-1 in
 * JavaScript crawl. The padded file (crypto/file-padding.ts) is cut into
 * segments of {@link SEGMENT_BYTES}; each segment becomes one complete
 * OpenPGP message (the file's PKESK packets, then one SEIPD v1 packet holding
 * a literal data packet and its MDC), and the attachment is those messages
 * back to back. Each one opens with plain `gpg --decrypt`.
 *
 * Per segment, everything heavy is done by WebCrypto:
 * - the MDC is one `digest('SHA-1')` over the random prefix, the literal
 *   packet and the MDC header (RFC 4880 §5.13);
 * - the AES-CFB keystream (OpenPGP's CFB with a zero IV, no resync) is AES-CBC
 *   of the plaintext shifted by one block: keystream block 1 is E(0), and
 *   block i+1 is E(C_i) = E(P_i ⊕ K_i), which is exactly CBC's chaining, so
 *   `encrypt('AES-CBC', iv = E(0))` over P_1 … P_{n-1} gives K_2 … K_n (its
 *   padding block is dropped). It runs as calls of 128 KiB, each chained on
 *   from the one before (see keystreamOnto).
 *
 * The interpreter only XORs the keystream onto the plaintext, a word at a time.
 * Segments don't depend on each other, so several run at once in Web Workers
 * (client/source/segment-worker.ts).
 *
 * All segments of one file share one random session key and one set of PKESK
 * packets (made once, crypto/file-session-key.ts): public-key work once per file,
 * not per segment. Each segment has its own random 16-byte prefix, so no two
 * share a keystream past the first block (whose XOR only reveals the XOR of
 * two random prefixes). The MDC protects each segment; their order and count
 * are protected by the file's size and hash in the tip document, which the
 * journalist's `decrypt` checks over the joined file.
 *
 * @module
 * No openpgp.js here, so the Web Workers that run it stay small.
 *
 * @example
 * const fileKey = await createFileKey(keys); // crypto/file-session-key.ts: { sessionKey, keyPackets }
 * const segmentKey = await importSegmentKey(fileKey, new Date());
 * const message = await encryptSegment(segmentKey, paddedPiece); // one OpenPGP message: gpg --decrypt opens it
 */
import { abytes } from './bytes.ts';
import { dayStart, utcDay } from './day.ts';

/** Plaintext bytes per segment (the last one may be shorter): 4 MiB, the piece size of the file hash. */
export const SEGMENT_BYTES = 4 * 1024 * 1024;

/** Plaintext bytes per AES-CBC call for the keystream (see keystreamOnto). */
const CBC_CALL_BYTES = 128 * 1024;

/** OpenPGP's AES-256 (RFC 4880 §9.2). */
const AES256 = 9;
const BLOCK = 16;
/** Random prefix (one block) and its last two bytes repeated (the quick check). */
const PREFIX_BYTES = BLOCK + 2;
/** MDC packet: tag 19 new-format header, length 20, SHA-1. */
const MDC_BYTES = 22;

/** What one file's segments share: a fresh AES-256 session key and the PKESK packets that wrap it for every recipient. */
export type FileKey = { sessionKey: Uint8Array; keyPackets: Uint8Array };

/** A file key ready for {@link encryptSegment}: the AES key imported for WebCrypto, and the literal packets' date. */
export type SegmentKey = { aes: CryptoKey; keyPackets: Uint8Array; literalDate: number; firstKeystreamBlock: Uint8Array<ArrayBuffer> };

/**
 * Imports `fileKey` for WebCrypto. The literal packets carry only the day
 * (`now`'s UTC midnight), as in every other envelope here.
 *
 * @example
 * const segmentKey = await importSegmentKey(fileKey, new Date());
 */
export async function importSegmentKey(fileKey: FileKey, now: Date = new Date()): Promise<SegmentKey> {
  abytes(fileKey.sessionKey, 32, 'sessionKey');
  abytes(fileKey.keyPackets, undefined, 'keyPackets');
  const aes = await crypto.subtle.importKey('raw', fileKey.sessionKey as Uint8Array<ArrayBuffer>, { name: 'AES-CBC' }, false, ['encrypt']);
  // E(0): CBC of one zero block with a zero IV (its padding block is dropped).
  const zero = new Uint8Array(BLOCK);
  const firstKeystreamBlock = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv: zero }, aes, zero)).slice(0, BLOCK);
  return { aes, keyPackets: fileKey.keyPackets, literalDate: Math.floor(dayStart(utcDay(now)).getTime() / 1000), firstKeystreamBlock };
}

/**
 * Where things go in the one buffer a segment's message is built in (see
 * {@link sealSegment}): the plaintext of `plaintextBytes` bytes sits at
 * `plaintextAt`, and the buffer is `bufferBytes` long.
 */
export type SegmentLayout = { plaintextBytes: number; plaintextAt: number; bufferBytes: number; slack: number; headBytes: number; innerLength: number; literalHeader: Uint8Array; seipdHeader: Uint8Array };

/**
 * The layout of the message for a segment of `plaintextBytes` bytes. The
 * message is built in one buffer, in place: key packets, SEIPD header and
 * version, then the encrypted body (`inner`). `inner` holds whole blocks at a
 * 4-byte aligned offset, so the XOR can run over 32-bit words; its tail beyond
 * `innerLength` is not part of the message. The message may start past the
 * buffer's start (the alignment slack).
 *
 * @example
 * const layout = segmentLayout(segmentKey, piece.length);
 * const buffer = new ArrayBuffer(layout.bufferBytes);
 * new Uint8Array(buffer).set(piece, layout.plaintextAt);
 * const message = await sealSegment(segmentKey, buffer, layout);
 */
export function segmentLayout(key: SegmentKey, plaintextBytes: number): SegmentLayout {
  if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) throw new RangeError('plaintextBytes must be a non-negative integer');
  if (plaintextBytes > SEGMENT_BYTES) throw new RangeError(`a segment holds at most ${SEGMENT_BYTES} bytes`);
  // Literal data packet (tag 11): format 'b', empty file name, the day.
  const literalBody = 6 + plaintextBytes;
  const literalHeader = newPacketHeader(11, literalBody);
  const innerLength = PREFIX_BYTES + literalHeader.length + literalBody + MDC_BYTES;
  const blocks = Math.ceil(innerLength / BLOCK);
  const seipdHeader = newPacketHeader(18, 1 + innerLength);
  const headBytes = key.keyPackets.length + seipdHeader.length + 1;
  const slack = (4 - (headBytes % 4)) % 4;
  const innerAt = slack + headBytes;
  return { plaintextBytes, plaintextAt: innerAt + PREFIX_BYTES + literalHeader.length + 6, bufferBytes: innerAt + blocks * BLOCK, slack, headBytes, innerLength, literalHeader, seipdHeader };
}

/**
 * One segment of plaintext as one OpenPGP message: `keyPackets`, then a SEIPD v1
 * packet (definite length) over a binary literal packet with no file name.
 *
 * @example
 * const message = await encryptSegment(segmentKey, piece); // Uint8Array
 */
export async function encryptSegment(key: SegmentKey, plaintext: Uint8Array): Promise<Uint8Array> {
  abytes(plaintext, undefined, 'plaintext');
  const layout = segmentLayout(key, plaintext.length);
  const buffer = new ArrayBuffer(layout.bufferBytes);
  new Uint8Array(buffer).set(plaintext, layout.plaintextAt);
  return sealSegment(key, buffer, layout);
}

/**
 * Encrypts, in place, a buffer of `layout.bufferBytes` that holds the
 * segment's plaintext at `layout.plaintextAt` (what else it holds is
 * overwritten), and returns the message: a view into `buffer`. So a caller
 * that can put the plaintext straight into the buffer (one read of the file,
 * client/source/file-segments.ts) copies nothing else.
 *
 * @example
 * const message = await sealSegment(segmentKey, buffer, segmentLayout(segmentKey, n));
 */
export async function sealSegment(key: SegmentKey, buffer: ArrayBuffer, layout: SegmentLayout): Promise<Uint8Array> {
  if (buffer.byteLength !== layout.bufferBytes) throw new RangeError(`the buffer must be ${layout.bufferBytes} bytes`);
  const { slack, headBytes, innerLength, literalHeader, seipdHeader } = layout;
  const inner = new Uint8Array(buffer, slack + headBytes);
  const blocks = inner.length / BLOCK;
  const prefix = crypto.getRandomValues(new Uint8Array(BLOCK));
  inner.set(prefix, 0);
  inner[BLOCK] = prefix[BLOCK - 2]!;
  inner[BLOCK + 1] = prefix[BLOCK - 1]!;
  let at = PREFIX_BYTES;
  inner.set(literalHeader, at);
  at += literalHeader.length;
  inner[at++] = 0x62; // 'b'
  inner[at++] = 0; // no file name
  new DataView(buffer, inner.byteOffset).setUint32(at, key.literalDate);
  at += 4;
  at += layout.plaintextBytes; // the plaintext is in place already
  inner[at++] = 0xd3; // MDC packet, new format, tag 19
  inner[at++] = 0x14; // 20 bytes
  const mdcAt = at;

  // The SHA-1 takes its copy of the plaintext now, and runs beside the keystream.
  const mdc = crypto.subtle.digest('SHA-1', inner.subarray(0, mdcAt));
  const words = new Int32Array(buffer, inner.byteOffset, inner.length / 4);
  // The keystream for the blocks wholly before the MDC needs only the plaintext; the rest waits for the MDC.
  await keystreamOnto(key, inner, words, blocks - 1, Math.floor(mdcAt / BLOCK), async () => inner.set(new Uint8Array(await mdc), mdcAt));
  // Block 0's keystream is E(0); its plaintext went into the first CBC call, so it can change now.
  xorWords(words, 0, new Int32Array(key.firstKeystreamBlock.buffer, key.firstKeystreamBlock.byteOffset, 4), 4);
  // The last block's bytes past the message are bare keystream: not part of the message, and not left in the buffer it travels in.
  inner.fill(0, innerLength);

  // In front of the ciphertext: the key packets, the SEIPD packet's header (tag 18) and version 1.
  const out = new Uint8Array(buffer, slack, headBytes + innerLength);
  out.set(key.keyPackets, 0);
  out.set(seipdHeader, key.keyPackets.length);
  out[headBytes - 1] = 1;
  // Nothing before the message either (the alignment slack): the buffer travels whole to the page.
  new Uint8Array(buffer, 0, slack).fill(0);
  return out;
}

/**
 * Blocks 1 … `total` of `inner` get their keystream XORed on: AES-CBC of
 * plaintext blocks 0 … `total - 1` with E(0) as the IV, in calls of at most
 * {@link CBC_CALL_BYTES}, each chained on from the last keystream block of the
 * one before. No call runs past block `split`, and `beforeSplit` (which writes
 * the MDC) runs before the first call from it on.
 *
 * Why many calls and not one: in Chromium one 4 MiB AES-CBC call took
 * 17–20 ms, 64 KiB calls 5–13 ms per 4 MiB (the call's copy of its input and
 * its output stay in the cache), and the XOR of one call's keystream runs on
 * this thread while the next call runs on WebCrypto's. 128 KiB did best in
 * the bench's browser-encrypt among 64 KiB to 1 MiB (docs/performance.md has
 * the figures). Each call takes its
 * copy of the plaintext when it is made, so a call's keystream is XORed only
 * once the next call is made: its last block lands on that call's first
 * plaintext block.
 */
async function keystreamOnto(key: SegmentKey, inner: Uint8Array<ArrayBuffer>, words: Int32Array, total: number, split: number, beforeSplit: () => Promise<void>): Promise<void> {
  const perCall = CBC_CALL_BYTES / BLOCK;
  const call = (at: number, n: number, iv: Uint8Array<ArrayBuffer>) => crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key.aes, inner.subarray(at * BLOCK, (at + n) * BLOCK));
  const callBlocks = (at: number) => Math.min(perCall, (at < split ? split : total) - at);
  let at = 0;
  let n = callBlocks(0);
  let pending: Promise<ArrayBuffer> | undefined = call(0, n, key.firstKeystreamBlock);
  while (pending) {
    const stream = new Uint8Array(await pending, 0, n * BLOCK);
    const done = { at, n };
    at += n;
    pending = undefined;
    if (at < total) {
      if (at === split) await beforeSplit();
      n = callBlocks(at);
      pending = call(at, n, stream.slice((done.n - 1) * BLOCK));
    }
    xorWords(words, (done.at + 1) * 4, new Int32Array(stream.buffer, 0, done.n * 4), done.n * 4);
  }
}

/**
 * target[from + i] ^= stream[i] for i < count. Unrolled by eight: at "Safer"
 * the interpreter runs this loop (no JIT), and it spends most of its time on
 * the loop itself; unrolled, 1 Mi words took 23 ms instead of 38 ms in
 * Firefox ESR with Tor Browser's Safer prefs.
 */
function xorWords(target: Int32Array, from: number, stream: Int32Array, count: number): void {
  const t = from === 0 && count === target.length ? target : target.subarray(from, from + count);
  let i = 0;
  for (const end = count - 7; i < end; i += 8) {
    t[i]! ^= stream[i]!;
    t[i + 1]! ^= stream[i + 1]!;
    t[i + 2]! ^= stream[i + 2]!;
    t[i + 3]! ^= stream[i + 3]!;
    t[i + 4]! ^= stream[i + 4]!;
    t[i + 5]! ^= stream[i + 5]!;
    t[i + 6]! ^= stream[i + 6]!;
    t[i + 7]! ^= stream[i + 7]!;
  }
  for (; i < count; i++) t[i]! ^= stream[i]!;
}

/** A new-format packet header with a definite length (RFC 4880 §4.2.2). */
function newPacketHeader(tag: number, length: number): Uint8Array {
  if (length < 192) return Uint8Array.of(0xc0 | tag, length);
  if (length < 8384) return Uint8Array.of(0xc0 | tag, ((length - 192) >> 8) + 192, (length - 192) & 0xff);
  return Uint8Array.of(0xc0 | tag, 0xff, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}
