/**
 * The attachment upload protocol (small, documented, resumable; see README):
 *
 * 1. `POST /api/v1/uploads` `{ bytes, desk, pow }` → 201 `{ id, chunkBytes }`:
 *    opens an upload of at most `bytes` bytes of ciphertext (needs a proof of work).
 * 2. `PUT /api/v1/uploads/:id?offset=N` with a raw chunk (≤ chunkBytes): N must be
 *    the bytes received so far. → `{ received }`. A dropped connection loses at
 *    most the chunk in flight.
 * 3. `GET /api/v1/uploads/:id` → `{ received, complete }`: where to resume.
 * 4. `POST /api/v1/uploads/:id/complete`: the server checks the whole blob is
 *    one OpenPGP message, or several back to back (segments), each to exactly the desk's keys. → `{ complete: true }`.
 *    The upload's proof of work pays for at most {@link MAX_CHECKS_PER_UPLOAD} checks, and a
 *    refusal is remembered: the same bad upload is never read again.
 * 5. The tip names the upload ids in `attachments`; only then do they belong to it.
 *
 * tus was considered: its servers and clients expect to own the request body
 * handling and add weight to the page; ours is five routes on Web streams.
 */
import { Hono } from 'hono';
import * as z from 'zod';
import { inspectSegmentedFile, NotEncryptedError } from '../../crypto/packets.ts';
import { checkKeyIds } from '../../crypto/envelope.ts';
import type { PowGuard } from '../abuse/pow-guard.ts';
import { readThroughWindow } from './read-window.ts';
import type { UploadQuota } from './upload-quota.ts';
import type { Limits } from '../config.ts';
import type { CurrentRecipients } from '../current-recipients.ts';
import { ApiError } from '../http/api-error.ts';
import { parseJson, readBodyWithLimit, requestBody } from '../http/read-body.ts';
import { requireJson } from '../source/api.ts';
import type { UploadStore } from './upload-store.ts';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;

/** The answer to a check that refused the upload, the first time and every time after. */
function refused(why: 'wrong-recipients' | 'not-encrypted'): ApiError {
  return new ApiError(422, why, "The upload is not OpenPGP messages (one, or one per segment) encrypted to exactly the desk's journalist keys.");
}
/**
 * At most one segment per this many bytes of upload (and one more): the page makes
 * one per 4 MiB of file, and a 2 GiB blob can then still name only 32768 of them
 * (a few small reads each), not millions of tiny messages.
 */
const BYTES_PER_SEGMENT_AT_LEAST = 64 * 1024;
/**
 * Checks one upload's proof of work pays for: one, and two more for when a
 * chunk arrived during the check (409 upload-changed) or the client retried.
 */
export const MAX_CHECKS_PER_UPLOAD = 3;
/** The read-ahead window of the check (read-window.ts): the row size of the blob store. */
const CHECK_WINDOW_BYTES = 1024 * 1024;
const CreateBody = z.strictObject({
  bytes: z.number().int().positive(),
  desk: z.string().max(64).optional(),
  pow: z.strictObject({ challenge: z.string().min(1).max(1024), nonce: z.string().min(1).max(32) }).optional(),
});

export function uploadApi(deps: { uploads: UploadStore; recipients: CurrentRecipients; pow: PowGuard; limits: Limits; quota: UploadQuota }): Hono {
  const api = new Hono();
  const uploadId = (id: string) => {
    if (!ID_RE.test(id)) throw new ApiError(404, 'no-upload', 'No such upload. Start it again.');
    return id;
  };

  api.post('/', async (c) => {
    requireJson(c.req.header('content-type'));
    const parsed = CreateBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, 2048)));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"bytes": <size of the encrypted file>, "desk": "<desk id>", "pow": {…}}.');
    if (parsed.data.bytes > deps.limits.maxFileBytes) throw new ApiError(413, 'file-too-large', 'The file is larger than the limit for one attachment.');
    const current = await deps.recipients.get();
    const desk = current.desk(parsed.data.desk);
    if (!desk) throw new ApiError(400, 'desk-required', 'Choose a desk: this tip line has several.');
    const what = { bytes: parsed.data.bytes };
    // The answer is checked first (one hash), the disk next, and the answer spent only once there is room: a refused source keeps nothing but loses no work it could reuse.
    deps.pow.check(parsed.data.pow, 'upload', what);
    const release = await deps.quota.admit(parsed.data.bytes);
    try {
      await deps.pow.redeem(parsed.data.pow, 'upload', what);
      const id = await deps.uploads.create({ declaredBytes: parsed.data.bytes, desk: desk.id });
      return c.json({ id, chunkBytes: deps.limits.maxChunkBytes }, 201);
    } catch (e) {
      release();
      throw e;
    }
  });

  api.get('/:id', async (c) => {
    const upload = await deps.uploads.get(uploadId(c.req.param('id')));
    if (!upload || upload.tipId) throw new ApiError(404, 'no-upload', 'No such upload. Start it again.');
    return c.json({ received: upload.receivedBytes, complete: upload.complete });
  });

  api.put('/:id', async (c) => {
    const id = uploadId(c.req.param('id'));
    const offset = Number(c.req.query('offset'));
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ApiError(400, 'bad-offset', 'offset must be the number of bytes already received.');
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/octet-stream\b/i.test(type)) throw new ApiError(415, 'unsupported-media-type', 'Send chunks as application/octet-stream.');
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > deps.limits.maxChunkBytes) throw new ApiError(413, 'too-large', 'The chunk is larger than the limit.');
    const received = await deps.uploads.appendChunk(id, offset, requestBody(c), { maxChunkBytes: deps.limits.maxChunkBytes });
    return c.json({ received });
  });

  api.post('/:id/complete', async (c) => {
    const id = uploadId(c.req.param('id'));
    const upload = await deps.uploads.get(id);
    if (!upload || upload.tipId) throw new ApiError(404, 'no-upload', 'No such upload. Start it again.');
    if (upload.complete) return c.json({ complete: true });
    if (upload.checkFailed) throw refused(upload.checkFailed);
    if (!(await deps.uploads.startCheck(id, MAX_CHECKS_PER_UPLOAD))) {
      const now = await deps.uploads.get(id);
      if (now?.complete) return c.json({ complete: true });
      if (now?.checkFailed) throw refused(now.checkFailed);
      throw new ApiError(429, 'too-many-checks', 'This upload was checked too many times. Start it again.');
    }
    const current = await deps.recipients.get();
    const desk = current.desk(upload.desk) ?? current.desks[0]!;
    try {
      // One message, or segments (crypto/segmented-envelope.ts: one message per 4 MiB), each to exactly the desk's keys.
      // Legitimate segments hold megabytes; a flood of tiny ones would only make this check slow.
      const readAt = readThroughWindow((at, n) => deps.uploads.blobs.readAt(id, at, n), CHECK_WINDOW_BYTES);
      const segments = await inspectSegmentedFile(readAt, upload.receivedBytes, Math.floor(upload.receivedBytes / BYTES_PER_SEGMENT_AT_LEAST) + 1);
      for (const { recipientKeyIds } of segments) checkKeyIds(recipientKeyIds, desk.keyIds);
    } catch (e) {
      if (e instanceof NotEncryptedError) {
        const failed = e.code === 'bad-recipients' ? 'wrong-recipients' : 'not-encrypted';
        await deps.uploads.markCheckFailed(id, failed);
        throw refused(failed);
      }
      throw e;
    }
    if (!(await deps.uploads.markComplete(id, upload.receivedBytes))) {
      throw new ApiError(409, 'upload-changed', "A chunk arrived while the upload was checked. Ask for the upload's state, then complete it again.");
    }
    return c.json({ complete: true });
  });

  return api;
}
