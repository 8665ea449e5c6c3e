/**
 * The journalist API, behind bearer tokens: list tips, fetch one tip's
 * ciphertext (or many at once, `POST /tips/ciphertexts`), re-key or delete a tip. It hands out ciphertext only; decryption
 * happens on the journalist's own machine.
 *
 * Re-keying (`PUT /tips/:id/ciphertext`, used by `tipline journalist rekey`)
 * takes the same tip with new key packets. The server trusts none of it: the
 * encrypted data packet must be byte-for-byte the stored one (compared by
 * SHA-256), and the key packets must name exactly the keys the tip belongs to
 * now. A tip whose desk no longer exists (or that has none) belongs to every
 * current journalist, as it is already listed to all of them; see
 * `tipRecipientIds` in crypto/rekey.ts, which the client shares. And the
 * server can't open a key packet, so it holds the swap to what it can check
 * (crypto/key-packet-swap.ts): a key that stays keeps its stored packet byte
 * for byte, and a new packet must be well-formed for its key. Otherwise a
 * journalist could swap a colleague's packet for junk naming the same key.
 *
 * A reply's newsroom copy is re-keyed the same way (`PUT /replies/:id/copy`),
 * to its conversation's desk, as `reply` encrypts it. An attachment is too big
 * to send back and forth: `GET /blobs/:id/head` gives its key packets and the
 * start of its data packet, and `PUT /blobs/:id/key-packets` takes new key
 * packets alone, which the server splices onto the data it holds
 * (server/uploads/blob-rekey.ts).
 */
import { Hono } from 'hono';
import * as z from 'zod';
import { base64 } from '../../crypto/bytes.ts';
import { checkKeyIds, checkRecipients } from '../../crypto/envelope.ts';
import { checkKeyPacketSwap, KeyPacketSwapError, type RecipientKeyShape } from '../../crypto/key-packet-swap.ts';
import { inspectEncryptedMessage, inspectKeyPackets, NotEncryptedError } from '../../crypto/packets.ts';
import { sameEncryptedData, tipRecipientIds } from '../../crypto/rekey.ts';
import { isReplyBox } from '../../crypto/reply-box.ts';
import type { Limits } from '../config.ts';
import type { CurrentRecipients, Recipients } from '../current-recipients.ts';
import { ApiError } from '../http/api-error.ts';
import { parseJson, readBodyWithLimit } from '../http/read-body.ts';
import { requireJson } from '../source/api.ts';
import type { SourceSessions } from '../source/sessions.ts';
import type { ReplyStore } from '../store/reply-store.ts';
import { AuthThrottle } from '../abuse/auth-throttle.ts';
import type { AuditLog } from '../store/audit-log.ts';
import { BlobRekeyError, BlobRekeying } from '../uploads/blob-rekey.ts';
import type { UploadStore } from '../uploads/upload-store.ts';
import type { Journalist, JournalistStore } from '../store/journalist-store.ts';
import { BadCursorError, NoSuchThreadError, type TipStore } from '../store/tip-store.ts';

type Env = { Variables: { journalist: Journalist } };

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const THREAD_RE = /^[0-9a-f]{64}$/;
const ReplyBody = z.strictObject({ box: z.string().min(1), copy: z.string().min(1) });
const RekeyBody = z.strictObject({ ciphertext: z.string().min(1) });
const RekeyCopyBody = z.strictObject({ copy: z.string().min(1) });
const RekeyBlobBody = z.strictObject({ keyPackets: z.string().min(1), previousKeyPacketsSha256: z.string().regex(/^[0-9a-f]{64}$/) });
/** Tip ids one POST /tips/ciphertexts may ask for; its bytes are `limits.maxTipsBatchBytes`. */
export const BATCH_TIPS = 100;
const BatchBody = z.strictObject({ ids: z.array(z.string().regex(ID_RE)).min(1).max(BATCH_TIPS) });
/** Room for the new key packets on top of the stored tip: an RSA-16384 key packet is about 2 KiB. */
const KEY_PACKET_ALLOWANCE = 2048;

export type JournalistApiDeps = {
  journalists: JournalistStore;
  tips: TipStore;
  replies: ReplyStore;
  recipients: CurrentRecipients;
  sessions: SourceSessions;
  limits: Limits;
  throttle: AuthThrottle;
  uploads: UploadStore;
  retentionDays?: number;
  /** Where deleting a conversation is recorded. */
  audit?: Pick<AuditLog, 'record'>;
};

export function journalistApi(deps: JournalistApiDeps): Hono<Env> {
  const api = new Hono<Env>();
  const blobRekeying = new BlobRekeying(deps.uploads.blobs);

  api.use('*', async function requireToken(c, next) {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer (\S+)$/.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'A bearer token is required.');
    // Authenticate first: a valid token is never throttled. Only wrong secrets for an
    // existing token's id (its public part, never the secret) are counted (abuse/auth-throttle.ts).
    const { journalist, knownTokenId } = await deps.journalists.signIn(m[1]!);
    if (!journalist) {
      if (knownTokenId && deps.throttle.failed(knownTokenId)) throw AuthThrottle.tooMany();
      throw new ApiError(401, 'unauthorized', 'The token is not valid.');
    }
    c.set('journalist', journalist);
    await next();
  });

  api.get('/me', (c) => {
    const j = c.get('journalist');
    // retentionDays lets the journalist tool warn about tips about to be deleted (0 = kept forever).
    return c.json({ id: j.id, name: j.name, fingerprint: j.fingerprint, retentionDays: deps.retentionDays ?? 0 });
  });

  /**
   * The desks this journalist is in, by the current manifest. Fails closed: with
   * no valid manifest nobody knows who is in which desk, so `recipients.get()`
   * throws ManifestUnavailableError, which app.ts answers with 503, and no
   * journalist route goes on.
   */
  const desksOf = async (journalistId: string) => {
    const current = await deps.recipients.get();
    const all = current.desks.map((d) => d.id);
    return { mine: current.desks.filter((d) => d.recipientIds.includes(journalistId)).map((d) => d.id), all };
  };
  const canRead = (desks: { mine: string[]; all: string[] }, desk: string | null | undefined) =>
    !desk || desks.mine.includes(desk) || !desks.all.includes(desk);
  /**
   * A conversation this journalist may see, and its desk; 404 otherwise, the
   * same answer for one that does not exist and one of another desk.
   */
  const readableThread = async (threadId: string, journalistId: string) => {
    const desks = await desksOf(journalistId);
    if (!(await deps.replies.threadExists(threadId))) throw new ApiError(404, 'not-found', 'No such conversation.');
    const desk = await deps.tips.threadDesk(threadId);
    if (!canRead(desks, desk)) throw new ApiError(404, 'not-found', 'No such conversation.');
    return { desk };
  };

  api.get('/tips', async (c) => {
    const limit = pageLimit(c.req.query('limit'), deps.limits.maxPageSize);
    try {
      const page = await deps.tips.list({ limit, cursor: c.req.query('cursor') ?? null, desks: await desksOf(c.get('journalist').id) });
      const attachments = await deps.uploads.forTips(page.tips.map((t) => t.id));
      // `onHold` (only when true) lets fetch leave held conversations out of its retention warning.
      const held = await deps.tips.heldThreads(page.tips.flatMap((t) => (t.threadId ? [t.threadId] : [])));
      return c.json({ ...page, tips: page.tips.map((t) => ({ ...t, attachments: attachments.get(t.id) ?? [], ...(t.threadId && held.has(t.threadId) ? { onHold: true } : {}) })) });
    } catch (e) {
      if (e instanceof BadCursorError) throw new ApiError(400, 'bad-cursor', 'The cursor is not one this server gave out.');
      throw e;
    }
  });

  api.get('/tips/:id', async (c) => {
    const tip = await deps.tips.get(tipId(c.req.param('id')));
    if (!tip || !canRead(await desksOf(c.get('journalist').id), tip.summary.desk)) throw new ApiError(404, 'not-found', 'No such tip.');
    return c.body(tip.ciphertext as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' });
  });

  // Many tips' ciphertexts in one answer, for fetch: one request instead of one per tip.
  api.post('/tips/ciphertexts', async (c) => {
    requireJson(c.req.header('content-type'));
    const parsed = BatchBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, 16 * 1024)));
    if (!parsed.success || new Set(parsed.data.ids).size !== parsed.data.ids.length) {
      throw new ApiError(400, 'bad-request', `Expected {"ids": [...]}: 1 to ${BATCH_TIPS} different tip ids.`);
    }
    const desks = await desksOf(c.get('journalist').id);
    const tips: { id: string; ciphertext: string }[] = [];
    let bytes = 0;
    for (const id of parsed.data.ids) {
      const tip = await deps.tips.get(id);
      // The same answer for a tip that does not exist and one in another desk, as GET /tips/:id gives.
      if (!tip || !canRead(desks, tip.summary.desk)) throw new ApiError(404, 'not-found', `No such tip: ${id}.`);
      bytes += tip.ciphertext.length;
      // Checked as it goes, so an oversized request stops before every tip in it is read.
      if (bytes > deps.limits.maxTipsBatchBytes && parsed.data.ids.length > 1) {
        throw new ApiError(413, 'too-large', `Ask for fewer tips at once: at most ${deps.limits.maxTipsBatchBytes} bytes of ciphertext, or one tip.`);
      }
      tips.push({ id, ciphertext: base64.encode(tip.ciphertext) });
    }
    return c.json({ tips });
  });

  api.put('/tips/:id/ciphertext', async (c) => {
    const id = tipId(c.req.param('id'));
    const tip = await deps.tips.get(id);
    if (!tip || !canRead(await desksOf(c.get('journalist').id), tip.summary.desk)) throw new ApiError(404, 'not-found', 'No such tip.');
    requireJson(c.req.header('content-type'));
    const current = await deps.recipients.get();
    const keyIds = currentKeyIdsFor(current, tip.summary.desk);
    const limit = tip.ciphertext.length + KEY_PACKET_ALLOWANCE * keyIds.length;
    const parsed = RekeyBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, Math.ceil((limit * 4) / 3) + 1024)));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"ciphertext": "<base64 OpenPGP message>"}.');
    const rekeyed = decode(parsed.data.ciphertext, limit, 'The re-keyed tip is larger than the stored tip plus its new key packets.');
    checkRekeyedMessage(tip.ciphertext, rekeyed, keyIds, current.shapes, "the tip's desk");
    const replaced = await deps.tips.replaceCiphertext(id, { expected: tip.ciphertext, ciphertext: rekeyed, manifestVersion: current.manifest.version });
    if (!replaced) throw new ApiError(409, 'tip-changed', 'The tip changed or was deleted while this request ran. Fetch it again and re-key again.');
    return c.json({ id, manifestVersion: current.manifest.version });
  });

  /** A claimed attachment this journalist may read, and the tip it belongs to; 404 otherwise (a bad id included). */
  const readableBlob = async (id: string, journalistId: string) => {
    const upload = ID_RE.test(id) ? await deps.uploads.get(id) : undefined;
    const tip = upload?.tipId ? await deps.tips.get(upload.tipId) : undefined;
    if (!upload || !tip || !canRead(await desksOf(journalistId), tip.summary.desk)) throw new ApiError(404, 'not-found', 'No such attachment.');
    return { upload, tip };
  };

  // An attachment's ciphertext, streamed; `Range: bytes=N-` resumes an interrupted download.
  api.get('/blobs/:id', async (c) => {
    const id = c.req.param('id');
    const { upload } = await readableBlob(id, c.get('journalist').id);
    const range = /^bytes=(\d+)-$/.exec(c.req.header('range') ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > upload.receivedBytes) throw new ApiError(400, 'bad-range', 'The range starts past the end of the attachment.');
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(upload.receivedBytes - start), 'Accept-Ranges': 'bytes' };
    if (range) headers['Content-Range'] = `bytes ${start}-${upload.receivedBytes - 1}/${upload.receivedBytes}`;
    return c.body(deps.uploads.blobs.read(id, start), range ? 206 : 200, headers);
  });

  // Re-keying an attachment, step 1: its key packets and the first bytes of its data packet (crypto/packets.ts inspectMessageHead).
  api.get('/blobs/:id/head', async (c) => {
    const id = c.req.param('id');
    const { upload } = await readableBlob(id, c.get('journalist').id);
    const { head, size } = await blobHead(id);
    // A re-key that stopped between the swap and recording the size would leave a wrong listing: heal it here.
    if (size !== upload.receivedBytes) await deps.uploads.setSize(id, size);
    return c.body(head as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' });
  });

  // Step 2: new key packets, to exactly the desk's current keys, spliced onto the stored data packet.
  api.put('/blobs/:id/key-packets', async (c) => {
    const id = c.req.param('id');
    const { tip } = await readableBlob(id, c.get('journalist').id);
    requireJson(c.req.header('content-type'));
    const current = await deps.recipients.get();
    const keyIds = currentKeyIdsFor(current, tip.summary.desk);
    const limit = KEY_PACKET_ALLOWANCE * keyIds.length;
    const parsed = RekeyBlobBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, Math.ceil((limit * 4) / 3) + 1024)));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"keyPackets": "<base64 PKESK packets>", "previousKeyPacketsSha256": "<hex SHA-256 of the key packets they replace>"}.');
    const keyPackets = decode(parsed.data.keyPackets, limit, 'The key packets are larger than new key packets for the current keys can be.');
    try {
      checkKeyIds(inspectKeyPackets(keyPackets), keyIds);
    } catch (e) {
      if (e instanceof NotEncryptedError) {
        throw e.code === 'bad-recipients'
          ? new ApiError(422, 'wrong-recipients', "The key packets must name exactly the current keys of the tip's desk. Fetch the current key list and re-key again. Nothing was changed.")
          : new ApiError(422, 'not-key-packets', 'The body must be public-key session key packets and nothing else: the server keeps the encrypted data itself. Nothing was changed.');
      }
      throw e;
    }
    let result: Awaited<ReturnType<BlobRekeying['replaceKeyPackets']>>;
    try {
      result = await blobRekeying.replaceKeyPackets(id, {
        keyPackets,
        previousKeyPacketsSha256: parsed.data.previousKeyPacketsSha256,
        checkSwap: (stored) => checkKeyPacketSwap(stored, keyPackets, current.shapes),
      });
    } catch (e) {
      if (e instanceof KeyPacketSwapError) throw swapRefused(e, 'Nothing was changed.');
      if (e instanceof BlobRekeyError) throw new ApiError(409, e.code, e.message);
      if (e instanceof NotEncryptedError) throw new ApiError(409, 'blob-unreadable', 'The stored attachment is not an encrypted message this server can re-key. Nothing was changed.');
      throw new ApiError(503, 'storage-error', 'The server could not write the re-keyed attachment. Nothing was changed: run rekey again in a moment.');
    }
    await deps.uploads.setSize(id, result.size);
    if (!(await deps.uploads.get(id))?.tipId) {
      // Its tip was deleted while the copy ran: the swapped-in file must not outlive it.
      await deps.uploads.blobs.delete(id);
      throw new ApiError(404, 'not-found', 'No such attachment.');
    }
    return c.json({ id, size: result.size, dataSha256: result.dataSha256, changed: result.changed, manifestVersion: current.manifest.version });
  });

  api.delete('/tips/:id', async (c) => {
    const id = tipId(c.req.param('id'));
    const tip = await deps.tips.get(id);
    // Only a journalist who can read a tip may delete it.
    if (!tip || !canRead(await desksOf(c.get('journalist').id), tip.summary.desk)) throw new ApiError(404, 'not-found', 'No such tip.');
    const deleted = await deps.tips.delete(id);
    if (!deleted) throw new ApiError(404, 'not-found', 'No such tip.');
    await deps.uploads.sweep(Infinity);
    return c.json({ deleted: true });
  });

  api.get('/replies', async (c) => {
    const limit = pageLimit(c.req.query('limit'), deps.limits.maxPageSize);
    const after = c.req.query('cursor') ?? null;
    if (after !== null && !ID_RE.test(after)) throw new ApiError(400, 'bad-cursor', 'The cursor is not one this server gave out.');
    return c.json(await deps.replies.list({ limit, after, desks: await desksOf(c.get('journalist').id) }));
  });

  api.get('/replies/:id', async (c) => {
    const id = c.req.param('id');
    const desks = await desksOf(c.get('journalist').id);
    const reply = ID_RE.test(id) ? await deps.replies.stored(id) : undefined;
    if (!reply || !canRead(desks, await deps.tips.threadDesk(reply.threadId))) throw new ApiError(404, 'not-found', 'No such reply.');
    return c.body(reply.copy as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' });
  });

  // Re-keying a reply's newsroom copy: the same checks as for a tip, to the conversation's desk.
  api.put('/replies/:id/copy', async (c) => {
    const id = c.req.param('id');
    const reply = ID_RE.test(id) ? await deps.replies.stored(id) : undefined;
    const desk = reply ? await deps.tips.threadDesk(reply.threadId) : null;
    if (!reply || !canRead(await desksOf(c.get('journalist').id), desk)) throw new ApiError(404, 'not-found', 'No such reply.');
    requireJson(c.req.header('content-type'));
    const current = await deps.recipients.get();
    const keyIds = currentKeyIdsFor(current, desk);
    const limit = reply.copy.length + KEY_PACKET_ALLOWANCE * keyIds.length;
    const parsed = RekeyCopyBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, Math.ceil((limit * 4) / 3) + 1024)));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"copy": "<base64 OpenPGP message>"}.');
    const copy = decode(parsed.data.copy, limit, 'The re-keyed copy is larger than the stored copy plus its new key packets.');
    checkRekeyedMessage(reply.copy, copy, keyIds, current.shapes, "the conversation's desk");
    if (!(await deps.replies.replaceCopy(id, { expected: reply.copy, copy }))) {
      throw new ApiError(409, 'reply-changed', 'The reply changed or was deleted while this request ran. Fetch it again and re-key again.');
    }
    return c.json({ id, manifestVersion: current.manifest.version });
  });

  // A reply: a box only the source's codename opens, and an OpenPGP copy for the newsroom.
  api.post('/threads/:threadId/replies', async (c) => {
    const threadId = threadIdParam(c.req.param('threadId'));
    // Before the body is read: a journalist of another desk learns nothing and posts nothing.
    const thread = await readableThread(threadId, c.get('journalist').id);
    requireJson(c.req.header('content-type'));
    const limit = deps.limits.maxTipBytes;
    const parsed = ReplyBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, Math.ceil((limit * 8) / 3) + 1024)));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"box": "<base64>", "copy": "<base64 OpenPGP>"}.');
    const box = decode(parsed.data.box, limit);
    const copy = decode(parsed.data.copy, limit);
    if (!isReplyBox(box)) throw new ApiError(422, 'not-a-reply-box', 'box is not a version 1 reply box.');
    const current = await deps.recipients.get();
    // The newsroom's copy goes to the conversation's desk, like the tips in it.
    const desk = current.stored(thread.desk);
    try {
      checkRecipients(copy, desk.keyIds);
    } catch (e) {
      if (e instanceof NotEncryptedError) throw new ApiError(422, 'wrong-recipients', 'The copy must be an OpenPGP message to exactly the current journalist keys.');
      throw e;
    }
    if (!(await deps.replies.threadExists(threadId))) throw new ApiError(404, 'not-found', 'No such conversation.');
    let id: string;
    try {
      id = await deps.replies.add(threadId, { box, copy });
    } catch (e) {
      // Deleted between the check and the insert.
      if (e instanceof NoSuchThreadError) throw new ApiError(404, 'not-found', 'No such conversation.');
      throw e;
    }
    return c.json({ id }, 201);
  });

  api.delete('/threads/:threadId', async (c) => {
    const threadId = threadIdParam(c.req.param('threadId'));
    const journalist = c.get('journalist');
    const { desk } = await readableThread(threadId, journalist.id);
    if (!(await deps.replies.deleteThread(threadId))) throw new ApiError(404, 'not-found', 'No such conversation.');
    await deps.uploads.sweep(Infinity);
    deps.sessions.destroyThread(threadId);
    // Who deleted a conversation of which desk; never the conversation's id (it is derived from the source's codename).
    await deps.audit?.record(`journalist:${journalist.id}`, 'thread.delete', `journalist=${journalist.name} desk=${desk ?? 'none'}`);
    return c.json({ deleted: true });
  });

  async function blobHead(id: string) {
    try {
      return await blobRekeying.head(id);
    } catch (e) {
      if (e instanceof BlobRekeyError) throw new ApiError(409, e.code, e.message);
      if (e instanceof NotEncryptedError) throw new ApiError(409, 'blob-unreadable', 'The stored attachment is not an encrypted message this server can re-key.');
      throw e;
    }
  }

  return api;
}

function pageLimit(text: string | undefined, max: number): number {
  const limit = Number(text ?? '100');
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new ApiError(400, 'bad-limit', `limit must be a whole number from 1 to ${max}.`);
  return limit;
}

function threadIdParam(id: string): string {
  if (!THREAD_RE.test(id)) throw new ApiError(404, 'not-found', 'No such conversation.');
  return id;
}

function decode(text: string, limit: number, tooLarge = 'The reply is larger than the limit.'): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64.decode(text);
  } catch {
    throw new ApiError(400, 'bad-request', 'Fields must be base64.');
  }
  if (bytes.length > limit) throw new ApiError(413, 'too-large', tooLarge);
  return bytes;
}

/** The encryption key IDs a stored tip for `desk` must name now (the rule in crypto/rekey.ts). */
function currentKeyIdsFor(current: Recipients, desk: string | null | undefined): string[] {
  const index = new Map(current.manifest.recipients.map((r, i) => [r.id, i]));
  return tipRecipientIds(current.manifest, desk).map((id) => current.keyIds[index.get(id)!]!);
}

function tipId(id: string): string {
  if (!ID_RE.test(id)) throw new ApiError(404, 'not-found', 'No such tip.');
  return id;
}

/**
 * A re-keyed whole message (a tip, a reply copy) may differ from the stored one
 * only in its key packets; those must name exactly `keyIds`, keep the stored
 * packet of every key that stays, and be well-formed for the keys that join
 * (`shapes`); else a 422 saying which rule it broke. `desk` names whose keys, for the message.
 */
function checkRekeyedMessage(stored: Uint8Array, rekeyed: Uint8Array, keyIds: string[], shapes: ReadonlyMap<string, RecipientKeyShape>, desk: string): void {
  try {
    if (!sameEncryptedData(stored, rekeyed)) {
      throw new ApiError(422, 'data-changed', 'The encrypted data packet differs from the stored one; only the key packets may change. Nothing was stored.');
    }
    const { dataPacket } = checkRecipients(rekeyed, keyIds);
    checkKeyPacketSwap(stored.subarray(0, inspectEncryptedMessage(stored).dataPacket.start), rekeyed.subarray(0, dataPacket.start), shapes);
  } catch (e) {
    if (e instanceof KeyPacketSwapError) throw swapRefused(e, 'Nothing was stored.');
    if (e instanceof NotEncryptedError) {
      throw e.code === 'bad-recipients'
        ? new ApiError(422, 'wrong-recipients', `The key packets must name exactly the current keys of ${desk}. Fetch the current key list and re-key again. Nothing was stored.`)
        : new ApiError(422, 'not-encrypted', 'The body is not an OpenPGP message encrypted to journalist keys. Nothing was stored.');
    }
    throw e;
  }
}

/** A swap that changes a staying key's packet, or brings a malformed new one: 422, in the words of crypto/key-packet-swap.ts. */
function swapRefused(e: KeyPacketSwapError, nothing: string): ApiError {
  const what = e.code === 'key-packet-changed' ? 'Run an up-to-date tipline, which keeps them.' : 'Re-key with tipline, which makes well-formed packets.';
  return new ApiError(422, e.code, `${capitalise(e.message)}. ${what} ${nothing}`);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
