/**
 * What a re-key may do to a message's key packets (PKESK, RFC 4880 §5.1),
 * checked without any secret. A re-key swaps the key packets of a stored tip,
 * reply copy or attachment; the server can't open any of them, so it can't
 * tell a good packet from junk that names the right key ID. Two rules bound
 * what a hostile or buggy journalist can do:
 *
 * - a key that stays in the set keeps its packet byte for byte: nobody can
 *   lock a colleague out of a tip they can open today;
 * - a packet for a key that joins must be well-formed for that key: version 3,
 *   its key ID, the key's public-key algorithm, and every field the size that
 *   algorithm gives it, with nothing after them. What it wraps stays unchecked
 *   (that needs the new key's secret half), so a hostile journalist can still
 *   wrap junk *for a key being added*, and only for it.
 *
 * The well-formed shapes are what openpgp.js 6 writes for the keys tipline
 * accepts (crypto/envelope.ts checkJournalistKey: v4 RSA ≥ 3072, v4
 * cv25519), and for X25519 (algorithm 25), which openpgp.js also writes into
 * v3 packets for v4 keys although tipline doesn't register such keys:
 *
 * | key algorithm | fields after the algorithm byte |
 * |---|---|
 * | RSA (1, 2) | one canonical MPI, 0 < value < the key's modulus |
 * | ECDH cv25519 (18) | MPI of 263 bits: 0x40 ‖ 32-byte point; 1 length byte; AES key wrap of the PKCS#5-padded session key: 32, 40 or 48 bytes (AES-128/192/256) |
 * | X25519 (25) | 32-byte point; 1 length byte; cleartext AES id (7–9); AES key wrap of the session key: 24, 32 or 40 bytes |
 *
 * @module
 * @example
 * import { checkKeyPacketSwap, recipientKeyShape } from './key-packet-swap.ts';
 * const shapes = new Map((await Promise.all(keys.map((k) => recipientKeyShape(k)))).map((s) => [s.keyId, s]));
 * checkKeyPacketSwap(storedKeyPackets, newKeyPackets, shapes); // throws KeyPacketSwapError
 */
import type * as openpgp from 'openpgp';
import { abytes, equalBytes, hex } from './bytes.ts';
import { NotEncryptedError, PacketTag, readPacketSpans } from './packets.ts';

/** What a key packet for one recipient key must look like: its key ID, public-key algorithm, and for RSA its modulus. */
export type RecipientKeyShape = {
  /** The encryption subkey's key ID, lowercase hex. */
  keyId: string;
  /** Its OpenPGP public-key algorithm number (1 RSA, 2 RSA encrypt-only, 18 ECDH, 25 X25519, …). */
  algorithm: number;
  /** For ECDH: openpgp.js's curve name; only `curve25519Legacy` is accepted. */
  curve?: string;
  /** For RSA: the modulus n, big-endian, no leading zero bytes. */
  modulus?: Uint8Array;
};

/** Why a key-packet swap was refused; `code` is stable and becomes the API error code. */
export class KeyPacketSwapError extends Error {
  override name = 'KeyPacketSwapError';
  constructor(
    readonly code: 'key-packet-changed' | 'bad-key-packet',
    message: string,
  ) {
    super(message);
  }
}

/** One PKESK packet: the key ID it names, its bytes (header included) and its body. */
export type KeyPacket = { keyId: string; packet: Uint8Array; body: Uint8Array };

/** The AES algorithm ids (RFC 4880 §9.2): every session key in tipline is AES (crypto/session-key.ts). */
const AES_IDS = new Set([7, 8, 9]);
/** ECDH: AES key wrap (+8) of 1 algorithm byte + 16/24/32 key bytes + 2 checksum bytes, PKCS#5-padded to 8 (always ≥ 1 byte). */
const ECDH_WRAPPED_BYTES = new Set([32, 40, 48]);
/** X25519: AES key wrap (+8) of the bare 16/24/32-byte session key. */
const X25519_WRAPPED_BYTES = new Set([24, 32, 40]);
/** A legacy cv25519 point as an MPI: 0x40, then 32 bytes; 0x40's top bit is bit 7 of 33 bytes, so 32·8 + 7 bits. */
const CV25519_MPI_BITS = 263;

/**
 * The shape of key packets for `key`'s encryption subkey at `now` (the one
 * openpgp.js encrypts to). Throws when the key has no valid encryption subkey.
 */
export async function recipientKeyShape(key: openpgp.PublicKey, now: Date = new Date()): Promise<RecipientKeyShape> {
  const sub = await key.getEncryptionKey(undefined, now);
  const packet = sub.keyPacket;
  const shape: RecipientKeyShape = { keyId: sub.getKeyID().toHex().toLowerCase(), algorithm: packet.algorithm };
  const { curve } = sub.getAlgorithmInfo();
  if (curve) shape.curve = curve;
  const n = (packet.publicParams as { n?: unknown }).n;
  if (n instanceof Uint8Array) shape.modulus = stripZeros(n);
  return shape;
}

/**
 * Splits key packets (what comes before a message's data packet: PKESK packets
 * only) into one {@link KeyPacket} each, in order. Throws `NotEncryptedError`
 * for anything else; run the stricter checks of packets.ts first.
 */
export function splitKeyPackets(keyPackets: Uint8Array): KeyPacket[] {
  return readPacketSpans(keyPackets).map((span) => {
    if (span.tag !== PacketTag.PKESK || span.partial) throw new NotEncryptedError('not-encrypted', 'only public-key session key packets are accepted here');
    const body = keyPackets.subarray(span.bodyStart, span.end);
    if (body.length < 10) throw new NotEncryptedError('malformed', 'a key packet is too short');
    return { keyId: hex.encode(body.subarray(1, 9)), packet: keyPackets.subarray(span.start, span.end), body };
  });
}

/**
 * Checks a swap of key packets: every packet in `swapped` whose key ID is in
 * `stored` must be that stored packet, byte for byte (header included); every
 * other one must be well-formed for its key in `shapes` (see the table above).
 * Packets may come in any order; dropping a stored packet is the caller's
 * concern (which key IDs are wanted is checked by `checkKeyIds` in
 * envelope.ts, before this). Throws {@link KeyPacketSwapError}.
 */
export function checkKeyPacketSwap(stored: Uint8Array, swapped: Uint8Array, shapes: ReadonlyMap<string, RecipientKeyShape>): void {
  abytes(stored, undefined, 'stored');
  abytes(swapped, undefined, 'swapped');
  const before = new Map(splitKeyPackets(stored).map((p) => [p.keyId, p.packet]));
  for (const p of splitKeyPackets(swapped)) {
    const kept = before.get(p.keyId);
    if (kept) {
      if (!equalBytes(kept, p.packet)) {
        throw new KeyPacketSwapError('key-packet-changed', `the key packet for key ${p.keyId}, which stays, differs from the stored one; a re-key must keep it byte for byte and add packets only for keys that join`);
      }
      continue;
    }
    const shape = shapes.get(p.keyId);
    if (!shape) throw new KeyPacketSwapError('bad-key-packet', `key ${p.keyId} is not a current key`);
    checkKeyPacketFor(p.body, shape);
  }
}

/**
 * Checks that a PKESK packet body is well-formed for `shape`'s key: version 3,
 * its key ID, its algorithm, each field the right size, nothing after them.
 * Throws {@link KeyPacketSwapError} (`bad-key-packet`) saying which rule failed.
 */
export function checkKeyPacketFor(body: Uint8Array, shape: RecipientKeyShape): void {
  abytes(body, undefined, 'body');
  const bad = (why: string) => new KeyPacketSwapError('bad-key-packet', `the new key packet for key ${shape.keyId} ${why}`);
  if (body.length < 10 || body[0] !== 3) throw bad('is not a version 3 key packet');
  if (hex.encode(body.subarray(1, 9)) !== shape.keyId) throw bad('names another key');
  if (body[9] !== shape.algorithm) throw bad(`is for public-key algorithm ${body[9]}, but the key's encryption subkey uses ${shape.algorithm}`);
  const fields = body.subarray(10);
  let end: number;
  switch (shape.algorithm) {
    case 1:
    case 2: {
      if (!shape.modulus) throw bad('cannot be checked: the key has no RSA modulus');
      const c = readCanonicalMpi(fields, 0, bad);
      if (compareBigEndian(c.value, shape.modulus) >= 0) throw bad('holds an RSA value not smaller than the key\'s modulus');
      end = c.end;
      break;
    }
    case 18: {
      if (shape.curve !== 'curve25519Legacy') throw bad(`is for ECDH over ${shape.curve ?? 'an unknown curve'}, which tipline does not accept`);
      const point = readCanonicalMpi(fields, 0, bad);
      if (point.bits !== CV25519_MPI_BITS || point.value[0] !== 0x40) throw bad('does not hold a Curve25519 point (0x40 and 32 bytes)');
      end = readWrappedKey(fields, point.end, ECDH_WRAPPED_BYTES, bad);
      break;
    }
    case 25: {
      if (fields.length < 33) throw bad('is too short for an X25519 point');
      const size = fields[32]!;
      // v3 X25519 packets carry the session key's algorithm in the clear, in front of the wrapped key.
      if (!AES_IDS.has(fields[33] ?? -1)) throw bad('does not name an AES session key');
      if (!X25519_WRAPPED_BYTES.has(size - 1)) throw bad(`holds a wrapped key of ${size - 1} bytes, which no AES session key wraps to`);
      end = 33 + size;
      break;
    }
    default:
      throw bad(`uses public-key algorithm ${shape.algorithm}, which tipline does not accept`);
  }
  if (end > fields.length) throw bad('is truncated');
  if (end < fields.length) throw bad(`has ${fields.length - end} byte(s) after its last field`);
}

type Refusal = (why: string) => KeyPacketSwapError;

/** An MPI at `pos`: the bit count must be exactly the value's (no leading zero bits, not zero), as openpgp.js writes it. */
function readCanonicalMpi(bytes: Uint8Array, pos: number, bad: Refusal): { bits: number; value: Uint8Array; end: number } {
  if (pos + 2 > bytes.length) throw bad('is truncated');
  const bits = (bytes[pos]! << 8) | bytes[pos + 1]!;
  const length = (bits + 7) >> 3;
  const end = pos + 2 + length;
  if (bits === 0) throw bad('holds an empty number');
  if (end > bytes.length) throw bad('is truncated');
  const value = bytes.subarray(pos + 2, end);
  // The top byte must have exactly the top bit the bit count says.
  if (32 - Math.clz32(value[0]!) !== bits - (length - 1) * 8) throw bad('holds a number whose bit count is wrong');
  return { bits, value, end };
}

/** A length byte at `pos`, then that many bytes, which must be one of `sizes`. Returns where it ends. */
function readWrappedKey(bytes: Uint8Array, pos: number, sizes: ReadonlySet<number>, bad: Refusal): number {
  const size = bytes[pos];
  if (size === undefined) throw bad('is truncated');
  if (!sizes.has(size)) throw bad(`holds a wrapped key of ${size} bytes, which no AES session key wraps to`);
  return pos + 1 + size;
}

function stripZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** Compares two unsigned big-endian numbers without leading zero bytes. */
function compareBigEndian(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
