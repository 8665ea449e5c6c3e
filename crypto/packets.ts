/**
 * A strict reader for the top-level packet structure of an OpenPGP message
 * (RFC 4880 §4.2), used to decide whether a body really is "encrypted to
 * exactly these keys" without decrypting anything or trusting openpgp.js's
 * lenient parser (which accepts unencrypted literal data and skips unknown packets).
 *
 * An accepted message is: one or more PKESK v3 packets, then exactly one
 * SEIPD v1 packet that ends at the last byte. Nothing else.
 *
 * Re-keying an attachment moves only its head (the key packets and the first
 * bytes of the data packet): {@link inspectMessageHead} reads such a head, and
 * {@link inspectKeyPackets} checks that an upload is key packets and nothing else.
 *
 * @module
 * @example
 * import { inspectEncryptedMessage, inspectKeyPackets, inspectMessageHead } from './packets.ts';
 * const { recipientKeyIds, dataPacket } = inspectEncryptedMessage(bytes);
 * // recipientKeyIds: ['a1b2c3d4e5f60718', ...] (lowercase hex, in packet order)
 * const head = inspectMessageHead(bytes.subarray(0, dataPacket.start + 32)); // { recipientKeyIds, keyPackets, quickCheck }
 * inspectKeyPackets(head.keyPackets); // the same recipientKeyIds
 */
import { abytes, hex } from './bytes.ts';

export const PacketTag = { PKESK: 1, SEIPD: 18 } as const;

export type PacketSpan = {
  tag: number;
  /** Offset of the packet's first header byte. */
  start: number;
  /** Offset just past the packet's last byte. */
  end: number;
  /** Offset of the first body byte (after the first length header). */
  bodyStart: number;
  /** True when the body uses partial lengths (only allowed for data packets). */
  partial: boolean;
};

export type InspectedMessage = {
  recipientKeyIds: string[];
  /** The byte range of the SEIPD packet, header included. Re-keying keeps these bytes untouched. */
  dataPacket: { start: number; end: number };
  packets: PacketSpan[];
};

/** Why a body was refused; `code` is stable and becomes the API error code. */
export class NotEncryptedError extends Error {
  override name = 'NotEncryptedError';
  constructor(readonly code: 'malformed' | 'not-encrypted' | 'bad-recipients', message: string) {
    super(message);
  }
}

/** Lists the top-level packets. Throws {@link NotEncryptedError} on any framing error. */
export function readPacketSpans(bytes: Uint8Array): PacketSpan[] {
  abytes(bytes, undefined, 'message');
  const spans: PacketSpan[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const first = bytes[pos++]!;
    if ((first & 0x80) === 0) throw new NotEncryptedError('malformed', 'not an OpenPGP packet');
    let tag: number;
    let partial = false;
    let bodyStart: number;
    let end: number;
    if (first & 0x40) {
      tag = first & 0x3f;
      // New-format lengths; partial lengths chain until a definite length ends the body.
      let len = readNewLength(bytes, pos);
      bodyStart = len.next;
      let cursor = len.next;
      if (len.partial) {
        partial = true;
        if (len.length < 512) throw new NotEncryptedError('malformed', 'first partial body chunk is too short');
        while (len.partial) {
          cursor += len.length;
          len = readNewLength(bytes, cursor);
          cursor = len.next;
        }
      }
      end = cursor + len.length;
    } else {
      tag = (first >> 2) & 0x0f;
      const type = first & 0x03;
      if (type === 3) throw new NotEncryptedError('malformed', 'indeterminate-length packets are not accepted');
      const size = [1, 2, 4][type]!;
      if (pos + size > bytes.length) throw new NotEncryptedError('malformed', 'truncated packet header');
      let length = 0;
      for (let i = 0; i < size; i++) length = length * 256 + bytes[pos + i]!;
      bodyStart = pos + size;
      end = bodyStart + length;
    }
    if (end > bytes.length) throw new NotEncryptedError('malformed', 'truncated packet');
    spans.push({ tag, start, end, bodyStart, partial });
    pos = end;
  }
  return spans;
}

function readNewLength(bytes: Uint8Array, pos: number): { length: number; next: number; partial: boolean } {
  if (pos >= bytes.length) throw new NotEncryptedError('malformed', 'truncated packet length');
  const o1 = bytes[pos]!;
  if (o1 < 192) return { length: o1, next: pos + 1, partial: false };
  if (o1 < 224) {
    if (pos + 1 >= bytes.length) throw new NotEncryptedError('malformed', 'truncated packet length');
    return { length: ((o1 - 192) << 8) + bytes[pos + 1]! + 192, next: pos + 2, partial: false };
  }
  if (o1 === 255) {
    if (pos + 4 >= bytes.length) throw new NotEncryptedError('malformed', 'truncated packet length');
    const length = bytes[pos + 1]! * 2 ** 24 + (bytes[pos + 2]! << 16) + (bytes[pos + 3]! << 8) + bytes[pos + 4]!;
    return { length, next: pos + 5, partial: false };
  }
  return { length: 1 << (o1 & 0x1f), next: pos + 1, partial: true };
}

/**
 * Checks that `bytes` is an OpenPGP message encrypted to public keys and nothing else,
 * and returns the key IDs it names. It does not decide *which* keys are acceptable;
 * compare `recipientKeyIds` with the manifest for that.
 */
export function inspectEncryptedMessage(bytes: Uint8Array): InspectedMessage {
  const packets = readPacketSpans(bytes);
  if (packets.length === 0) throw new NotEncryptedError('malformed', 'empty message');
  const recipientKeyIds: string[] = [];
  let i = 0;
  for (; i < packets.length && packets[i]!.tag === PacketTag.PKESK; i++) {
    const p = packets[i]!;
    if (p.partial) throw new NotEncryptedError('malformed', 'a key packet may not use partial lengths');
    recipientKeyIds.push(keyIdOfKeyPacket(bytes.subarray(p.bodyStart, p.end), recipientKeyIds));
  }
  if (recipientKeyIds.length === 0) throw new NotEncryptedError('not-encrypted', 'the message is not encrypted to any public key');
  const data = packets[i];
  if (!data || data.tag !== PacketTag.SEIPD) throw new NotEncryptedError('not-encrypted', 'expected one integrity-protected encrypted data packet after the key packets');
  if (i !== packets.length - 1) throw new NotEncryptedError('not-encrypted', 'unexpected packets after the encrypted data');
  if (data.bodyStart >= data.end || bytes[data.bodyStart] !== 1) throw new NotEncryptedError('not-encrypted', 'only version 1 integrity-protected data is accepted');
  // SEIPDv1 = version byte + at least one cipher block of prefix + MDC (22 bytes, encrypted).
  if (data.end - data.bodyStart < 1 + 16 + 2 + 22) throw new NotEncryptedError('malformed', 'encrypted data is too short');
  return { recipientKeyIds, dataPacket: { start: data.start, end: data.end }, packets };
}

/**
 * The key ID a PKESK packet body names, after the checks every reader here
 * makes: version 3, not the anonymous wildcard, not already in `seen`.
 */
function keyIdOfKeyPacket(body: Uint8Array, seen: readonly string[]): string {
  if (body.length < 12 || body[0] !== 3) throw new NotEncryptedError('not-encrypted', 'only version 3 public-key session key packets are accepted');
  const keyId = hex.encode(body.subarray(1, 9));
  if (keyId === '0000000000000000') throw new NotEncryptedError('bad-recipients', 'anonymous (wildcard) recipients are not accepted');
  if (seen.includes(keyId)) throw new NotEncryptedError('bad-recipients', 'a recipient appears twice');
  return keyId;
}

/**
 * Checks that `bytes` is one or more PKESK v3 packets and nothing else (what a
 * journalist uploads to re-key an attachment) and returns the key IDs they name.
 * Throws {@link NotEncryptedError}: `malformed` for broken framing, `not-encrypted`
 * for any other packet (a data packet, literal data), `bad-recipients` for a
 * wildcard or repeated key ID.
 */
export function inspectKeyPackets(bytes: Uint8Array): string[] {
  const packets = readPacketSpans(bytes);
  if (packets.length === 0) throw new NotEncryptedError('malformed', 'no key packets');
  const recipientKeyIds: string[] = [];
  for (const p of packets) {
    if (p.tag !== PacketTag.PKESK) throw new NotEncryptedError('not-encrypted', 'only public-key session key packets are accepted here');
    if (p.partial) throw new NotEncryptedError('malformed', 'a key packet may not use partial lengths');
    // The head reader (findDataPacketStart, inspectMessageHead) takes new-format headers only, as
    // openpgp.js writes them: old-format ones spliced in here would make the blob unreadable to it for good.
    if ((bytes[p.start]! & 0x40) === 0) throw new NotEncryptedError('malformed', 'key packets must use new-format packet headers');
    recipientKeyIds.push(keyIdOfKeyPacket(bytes.subarray(p.bodyStart, p.end), recipientKeyIds));
  }
  return recipientKeyIds;
}

/** Bytes of the data packet a message head must carry: its header (at most 6 bytes), version byte and 18-byte quick-check prefix. */
export const HEAD_DATA_BYTES = 32;

export type MessageHead = {
  recipientKeyIds: string[];
  /** The key packets, exactly as stored: everything before the data packet. */
  keyPackets: Uint8Array;
  /** The first 18 encrypted bytes of the data packet's body (after its version byte): the SEIPDv1 random prefix and its check bytes. */
  quickCheck: Uint8Array;
};

/**
 * Reads the head of an encrypted message (for an attachment: the first bytes
 * of a file that may be gigabytes long): its PKESK packets, then the header of
 * the SEIPD v1 packet that follows them and the start of that packet's body.
 * `head` may stop anywhere after those 19 body bytes. The same checks as
 * {@link inspectEncryptedMessage} apply to what it covers; new-format packets
 * only, as in attachments. Throws {@link NotEncryptedError}.
 */
export function inspectMessageHead(head: Uint8Array): MessageHead {
  abytes(head, undefined, 'head');
  const recipientKeyIds: string[] = [];
  let pos = 0;
  for (;;) {
    const first = head[pos];
    if (first === undefined) throw new NotEncryptedError('malformed', 'the head ends before the encrypted data packet');
    if ((first & 0x80) === 0) throw new NotEncryptedError('malformed', 'not an OpenPGP packet');
    if (!(first & 0x40)) throw new NotEncryptedError('malformed', 'old-format packets are not accepted in attachments');
    const tag = first & 0x3f;
    const len = readNewLength(head, pos + 1);
    if (tag === PacketTag.PKESK) {
      if (len.partial) throw new NotEncryptedError('malformed', 'a key packet may not use partial lengths');
      const end = len.next + len.length;
      if (end > head.length) throw new NotEncryptedError('malformed', 'truncated packet');
      recipientKeyIds.push(keyIdOfKeyPacket(head.subarray(len.next, end), recipientKeyIds));
      pos = end;
      continue;
    }
    if (tag !== PacketTag.SEIPD || recipientKeyIds.length === 0) {
      throw new NotEncryptedError('not-encrypted', recipientKeyIds.length === 0 ? 'the message is not encrypted to any public key' : 'expected one integrity-protected encrypted data packet after the key packets');
    }
    if (len.partial && len.length < 512) throw new NotEncryptedError('malformed', 'first partial body chunk is too short');
    // A definite-length body holds at least the version byte, the prefix and the MDC; a partial one's first chunk at least 512 bytes.
    if (!len.partial && len.length < 1 + 16 + 2 + 22) throw new NotEncryptedError('malformed', 'encrypted data is too short');
    if (head.length < len.next + 1 + 18) throw new NotEncryptedError('malformed', 'the head ends before the start of the encrypted data');
    if (head[len.next] !== 1) throw new NotEncryptedError('not-encrypted', 'only version 1 integrity-protected data is accepted');
    return { recipientKeyIds, keyPackets: head.subarray(0, pos), quickCheck: head.subarray(len.next + 1, len.next + 19) };
  }
}

/** Reads `length` bytes at `offset` (fewer only at the end); lets the walker below run over a file without I/O here. */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/** The shortest partial body chunk accepted in a stored file, first or not (see inspectMessageAt). */
export const MIN_PARTIAL_CHUNK_BYTES = 512;

/**
 * {@link inspectEncryptedMessage} for messages too big to hold in memory
 * (attachments): walks the packet headers through `readAt`, reading only the
 * key packets and the length headers of the data packet's chunks.
 */
export async function inspectEncryptedFile(readAt: ReadAt, size: number): Promise<{ recipientKeyIds: string[]; dataPacket: { start: number; end: number } }> {
  const message = await inspectMessageAt(readAt, 0, size);
  if (message.dataPacket.end !== size) throw new NotEncryptedError('not-encrypted', 'unexpected bytes after the encrypted data');
  return message;
}

/** One OpenPGP message of a segmented attachment (crypto/segmented-envelope.ts): where it starts and which keys it names. */
export type InspectedSegment = { start: number; recipientKeyIds: string[]; dataPacket: { start: number; end: number } };

/**
 * Reads an attachment that may be segmented: one or more complete OpenPGP
 * messages back to back (each PKESK v3 packets, then one SEIPD v1 packet), and
 * nothing else, up to the last byte. An attachment from before segmenting is
 * one message, so one segment. Every segment is checked as strictly as
 * {@link inspectEncryptedFile} checks a whole message; the caller compares
 * each segment's `recipientKeyIds` with the keys it expects.
 * At most `maxSegments` segments (a blob of many tiny messages is refused as malformed).
 */
export async function inspectSegmentedFile(readAt: ReadAt, size: number, maxSegments = Number.MAX_SAFE_INTEGER): Promise<InspectedSegment[]> {
  const segments: InspectedSegment[] = [];
  let pos = 0;
  do {
    if (segments.length >= maxSegments) throw new NotEncryptedError('malformed', 'too many segments');
    const message = await inspectMessageAt(readAt, pos, size);
    segments.push({ start: pos, ...message });
    pos = message.dataPacket.end;
  } while (pos < size);
  return segments;
}

/** One message starting at `pos` (key packets, then one SEIPD v1 packet); it may be followed by more bytes, which the caller judges. */
export async function inspectMessageAt(readAt: ReadAt, pos: number, size: number): Promise<{ recipientKeyIds: string[]; dataPacket: { start: number; end: number } }> {
  const recipientKeyIds: string[] = [];
  for (;;) {
    if (pos >= size) throw new NotEncryptedError('not-encrypted', 'expected one integrity-protected encrypted data packet after the key packets');
    const head = await readAt(pos, 6);
    const first = head[0]!;
    if (first === undefined || (first & 0x80) === 0) throw new NotEncryptedError('malformed', 'not an OpenPGP packet');
    if (!(first & 0x40)) throw new NotEncryptedError('malformed', 'old-format packets are not accepted in attachments');
    const tag = first & 0x3f;
    let len = readNewLength(head, 1);
    const bodyStart = pos + len.next;
    if (tag === PacketTag.PKESK) {
      if (len.partial) throw new NotEncryptedError('malformed', 'a key packet may not use partial lengths');
      if (bodyStart + len.length > size) throw new NotEncryptedError('malformed', 'truncated packet');
      recipientKeyIds.push(keyIdOfKeyPacket(await readAt(bodyStart, Math.min(len.length, 12)), recipientKeyIds));
      pos = bodyStart + len.length;
      continue;
    }
    if (tag !== PacketTag.SEIPD || recipientKeyIds.length === 0) {
      throw new NotEncryptedError('not-encrypted', recipientKeyIds.length === 0 ? 'the message is not encrypted to any public key' : 'expected one integrity-protected encrypted data packet after the key packets');
    }
    const version = await readAt(bodyStart, 1);
    if (version[0] !== 1) throw new NotEncryptedError('not-encrypted', 'only version 1 integrity-protected data is accepted');
    let cursor = bodyStart;
    let total = 0;
    if (len.partial && len.length < MIN_PARTIAL_CHUNK_BYTES) throw new NotEncryptedError('malformed', 'first partial body chunk is too short');
    while (len.partial) {
      cursor += len.length;
      total += len.length;
      if (cursor >= size) throw new NotEncryptedError('malformed', 'truncated packet');
      len = readNewLength(await readAt(cursor, 5), 0);
      // RFC 4880 asks 512 bytes of the first chunk only; later ones may be one byte each, and a stored
      // file of one-byte chunks costs a header read per two bytes to check (issue 17: 291 s for 2 MiB).
      // openpgp.js and GnuPG never write a partial chunk under 512 bytes, so neither may anyone here.
      if (len.partial && len.length < MIN_PARTIAL_CHUNK_BYTES) throw new NotEncryptedError('malformed', 'partial body chunk is too short');
      cursor += len.next;
    }
    const end = cursor + len.length;
    total += len.length;
    if (end > size) throw new NotEncryptedError('malformed', 'truncated packet');
    if (total < 1 + 16 + 2 + 22) throw new NotEncryptedError('malformed', 'encrypted data is too short');
    return { recipientKeyIds, dataPacket: { start: pos, end } };
  }
}

/**
 * Where the data packet of a message read through `readAt` starts, found by
 * walking only the headers of the key packets in front of it: a few small
 * reads however long the message is. It checks nothing else; give the bytes
 * up to there (plus {@link HEAD_DATA_BYTES}) to {@link inspectMessageHead}.
 */
export async function findDataPacketStart(readAt: ReadAt, size: number): Promise<number> {
  let pos = 0;
  while (pos < size) {
    const header = await readAt(pos, 6);
    const first = header[0]!;
    if (first === undefined || (first & 0xc0) !== 0xc0) throw new NotEncryptedError('malformed', 'not a new-format OpenPGP packet');
    if ((first & 0x3f) !== PacketTag.PKESK) return pos;
    const len = readNewLength(header, 1);
    if (len.partial) throw new NotEncryptedError('malformed', 'a key packet may not use partial lengths');
    pos += len.next + len.length;
  }
  throw new NotEncryptedError('not-encrypted', 'expected one integrity-protected encrypted data packet after the key packets');
}
