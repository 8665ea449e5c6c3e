/**
 * The tip document: the plaintext that gets padded and encrypted to journalists.
 *
 * Layout (version 1), chosen so that plain `gpg --decrypt` prints something a
 * person can read:
 *
 * ```
 * {"tipline":1,"type":"tip","messageBytes":11,"fields":{},...}   ← header: one line of JSON
 * Hello world                                                     ← the message, exactly messageBytes of UTF-8
 *                                                                 ← one LF, then spaces up to the bucket (padding)
 * ```
 *
 * The header holds everything but the message text: form fields, desk, the
 * source's reply public key and attachment descriptions, all of which must stay
 * inside the encryption. The server never parses this; only the source's browser
 * (or the server's no-JavaScript path, in memory) writes it and only journalists read it.
 *
 * @module
 * @example
 * import { encodeTipDocument, decodeTipDocument } from './tip-document.ts';
 * const bytes = encodeTipDocument({ type: 'tip', message: 'Hello', fields: {} });
 * decodeTipDocument(bytes).message; // 'Hello'
 */
import { utf8, concatBytes, abytes } from './bytes.ts';
import { PAD_BYTE } from './padding.ts';

export const TIP_DOCUMENT_VERSION = 1;

/** What a source attached; filled in by the attachments feature. Never sent in clear. */
export type AttachmentRef = {
  blobId: string;
  name: string;
  type: string;
  size: number;
  /** Hex. Without `hashFormat` (tips sent before it existed): the file's plain SHA-256. */
  sha256: string;
  /** `'sha256-pieces'`: `sha256` is crypto/piece-hash.ts's hash of 4 MiB pieces (native in every browser). */
  hashFormat?: 'sha256-pieces';
  /**
   * `'seipd1-segments'` ({@link SEGMENTED_ENCRYPTION}): the blob is several complete OpenPGP
   * messages back to back, one per 4 MiB of padded file (crypto/segmented-envelope.ts).
   * Absent (tips sent before it): the blob is one message.
   */
  encryption?: typeof SEGMENTED_ENCRYPTION;
};

/** The attachment envelope of crypto/segmented-envelope.ts, as the tip document names it. */
export const SEGMENTED_ENCRYPTION = 'seipd1-segments';

export type TipDocument = {
  type: 'tip' | 'followup' | 'reply';
  message: string;
  fields: Record<string, string>;
  desk?: string;
  /** Language of the page the source used (helps the journalist answer in it). */
  lang?: string;
  /** The source's X25519 reply public key, hex. */
  replyPublicKey?: string;
  /**
   * Tips and follow-ups: the conversation it was written for (crypto/codename.ts's
   * threadIdOf, 64 lowercase hex), so a server that files it under another one is
   * caught by `decrypt`. Absent in messages sent before it was recorded.
   */
  threadId?: string;
  /**
   * Tips and follow-ups: who encrypted it, `'browser'` (the server never saw the
   * plaintext) or `'server'` (the no-JavaScript form), written by whoever did,
   * so a later relabelling on the server can't change what the journalist is told.
   */
  encryptedBy?: 'browser' | 'server';
  /**
   * The manifest desk id it was encrypted for, `null` for the whole newsroom
   * (tips, follow-ups, and the newsroom's copy of a reply). `rekey` and `reply`
   * take the keys from this, not from the server's desk label. Absent in
   * messages sent before it was recorded.
   */
  deskId?: string | null;
  /**
   * The version of the signed manifest whose keys it was encrypted to. A
   * journalist's tool that later sees an older key list from the server knows
   * the server is holding back a newer one (a frozen manifest).
   */
  keyListVersion?: number;
  attachments?: AttachmentRef[];
  /**
   * Replies only, and only in the newsroom's copy (never in the source's box):
   * the journalist who sent it, from the signed manifest on the sender's machine.
   * Not signed: it says what the sender's tool recorded, not a proof.
   */
  author?: ReplyAuthor;
};

/** Who sent a reply: the display name and OpenPGP fingerprint (40 lowercase hex) in the manifest. */
export type ReplyAuthor = { name: string; fingerprint: string };

export class TipDocumentError extends Error {
  override name = 'TipDocumentError';
}

const TYPES = new Set(['tip', 'followup', 'reply']);
const LF = 0x0a;

/** Encodes a tip document to unpadded bytes. Pad the result with `padToBucket` before encrypting. */
export function encodeTipDocument(doc: TipDocument): Uint8Array {
  checkDocument(doc);
  const message = utf8.encode(doc.message);
  const { message: _omit, ...rest } = doc;
  const header = { tipline: TIP_DOCUMENT_VERSION, ...rest, messageBytes: message.length };
  const headerBytes = utf8.encode(JSON.stringify(header));
  return concatBytes(headerBytes, new Uint8Array([LF]), message, new Uint8Array([LF]));
}

/** Decodes (possibly padded) tip document bytes. Throws {@link TipDocumentError} on anything malformed. */
export function decodeTipDocument(bytes: Uint8Array): TipDocument {
  abytes(bytes, undefined, 'bytes');
  const headerEnd = bytes.indexOf(LF);
  if (headerEnd < 0) throw new TipDocumentError('no header line');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(utf8.decode(bytes.subarray(0, headerEnd)));
  } catch {
    throw new TipDocumentError('header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new TipDocumentError('header is not an object');
  if (header.tipline !== TIP_DOCUMENT_VERSION) throw new TipDocumentError(`unsupported tip document version ${String(header.tipline)}`);
  const length = header.messageBytes;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) throw new TipDocumentError('bad messageBytes');
  const start = headerEnd + 1;
  const end = start + length;
  if (end + 1 > bytes.length || bytes[end] !== LF) throw new TipDocumentError('message length does not match');
  for (let i = end + 1; i < bytes.length; i++) {
    if (bytes[i] !== PAD_BYTE) throw new TipDocumentError('unexpected bytes after the message');
  }
  let message: string;
  try {
    message = utf8.decode(bytes.subarray(start, end));
  } catch {
    throw new TipDocumentError('message is not valid UTF-8');
  }
  const { tipline: _v, messageBytes: _n, ...rest } = header;
  const doc = { ...rest, message } as TipDocument;
  checkDocument(doc);
  return doc;
}

function checkDocument(doc: TipDocument): void {
  if (typeof doc !== 'object' || doc === null) throw new TipDocumentError('document must be an object');
  if (!TYPES.has(doc.type)) throw new TipDocumentError('bad type');
  if (typeof doc.message !== 'string') throw new TipDocumentError('message must be a string');
  if (typeof doc.fields !== 'object' || doc.fields === null || Array.isArray(doc.fields)) throw new TipDocumentError('fields must be an object');
  for (const [k, v] of Object.entries(doc.fields)) {
    if (typeof v !== 'string') throw new TipDocumentError(`field ${k} must be a string`);
  }
  for (const key of ['desk', 'lang', 'replyPublicKey'] as const) {
    if (doc[key] !== undefined && typeof doc[key] !== 'string') throw new TipDocumentError(`${key} must be a string`);
  }
  if (doc.replyPublicKey !== undefined && !/^[0-9a-f]{64}$/.test(doc.replyPublicKey)) {
    throw new TipDocumentError('replyPublicKey must be 32 bytes of lowercase hex');
  }
  if (doc.threadId !== undefined && (typeof doc.threadId !== 'string' || !/^[0-9a-f]{64}$/.test(doc.threadId))) {
    throw new TipDocumentError('threadId must be 32 bytes of lowercase hex');
  }
  if (doc.encryptedBy !== undefined && doc.encryptedBy !== 'browser' && doc.encryptedBy !== 'server') {
    throw new TipDocumentError("encryptedBy must be 'browser' or 'server'");
  }
  if (doc.deskId !== undefined && doc.deskId !== null && (typeof doc.deskId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(doc.deskId))) {
    throw new TipDocumentError('deskId must be a desk id or null');
  }
  if (doc.keyListVersion !== undefined && (!Number.isSafeInteger(doc.keyListVersion) || doc.keyListVersion < 1)) {
    throw new TipDocumentError('keyListVersion must be a positive integer');
  }
  // A reply's conversation may be named (in the newsroom's copy, so rekey can check where it is filed); who encrypted it never: a journalist did.
  if (doc.encryptedBy !== undefined && doc.type === 'reply') {
    throw new TipDocumentError('a reply does not say who encrypted it');
  }
  if (doc.author !== undefined) {
    const a = doc.author as Partial<ReplyAuthor> | null;
    if (doc.type !== 'reply') throw new TipDocumentError('only a reply has an author');
    if (typeof a !== 'object' || a === null || typeof a.name !== 'string' || a.name.length === 0 || a.name.length > 200 || typeof a.fingerprint !== 'string' || !/^[0-9a-f]{40}$/.test(a.fingerprint)) {
      throw new TipDocumentError('author must be { name, fingerprint } with a name of 1 to 200 characters and a 40-hex-digit fingerprint');
    }
    if (Object.keys(a).length !== 2) throw new TipDocumentError('author has unknown fields');
  }
  if (doc.attachments !== undefined) {
    if (!Array.isArray(doc.attachments)) throw new TipDocumentError('attachments must be a list');
    for (const a of doc.attachments) {
      if (typeof a?.blobId !== 'string' || typeof a.name !== 'string' || typeof a.type !== 'string' ||
        typeof a.sha256 !== 'string' || !Number.isSafeInteger(a.size)) {
        throw new TipDocumentError('malformed attachment entry');
      }
      if (a.hashFormat !== undefined && a.hashFormat !== 'sha256-pieces') throw new TipDocumentError('unknown attachment hash format');
      if (a.encryption !== undefined && a.encryption !== SEGMENTED_ENCRYPTION) throw new TipDocumentError('unknown attachment encryption');
    }
  }
}
