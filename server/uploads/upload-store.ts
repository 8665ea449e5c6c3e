/**
 * Upload sessions for attachments: created, filled chunk by chunk (only at the
 * byte where the last acknowledged chunk ended, so a dropped Tor circuit
 * resumes instead of restarting), checked, then claimed by the tip that names
 * them, in the tip's own transaction.
 *
 * @example
 * const uploads = new UploadStore(db, blobs);
 * const id = await uploads.create({ declaredBytes, desk });
 * await uploads.appendChunk(id, offset, body, limits);
 */
import type { Readable } from 'node:stream';
import { randomId } from '../../crypto/bytes.ts';
import type { TiplineDb } from '../db/open-database.ts';
import { ApiError } from '../http/api-error.ts';
import { ChunkTooLargeError } from './blob-store.ts';
import type { BlobStore } from './blob-store.ts';
import { SweepTick } from './sweep-tick.ts';

/** How often unclaimed uploads age by one sweep: an hour, less a margin so an hourly timer that fires a little late never skips one. */
export const UPLOAD_SWEEP_PERIOD_MS = 55 * 60 * 1000;

/** Why a check refused an upload; stored as 1 and 2 in `uploads.check_failed`. */
export type CheckFailure = 'not-encrypted' | 'wrong-recipients';
const FAILURES: readonly CheckFailure[] = ['not-encrypted', 'wrong-recipients'];

export type UploadState = {
  id: string;
  desk: string | null;
  declaredBytes: number;
  receivedBytes: number;
  complete: boolean;
  tipId: string | null;
  /** Times `/complete` checked it, and why a check refused it (then it is never checked again). */
  checks: number;
  checkFailed: CheckFailure | undefined;
};

/** The upload's byte count moved on while this chunk was being stored (another request won). */
class StaleChunkError extends Error {
  override name = 'StaleChunkError';
}

export class UploadStore {
  /** The chunk being written to each upload, so the next one waits for it (see appendChunk). */
  private readonly writing = new Map<string, Promise<number>>();
  private readonly tick: SweepTick;

  constructor(
    private readonly db: TiplineDb,
    readonly blobs: BlobStore,
    clock: () => Date = () => new Date(),
  ) {
    this.tick = new SweepTick(db, 'unclaimed-uploads', UPLOAD_SWEEP_PERIOD_MS, clock);
  }

  async create(o: { declaredBytes: number; desk: string | null }): Promise<string> {
    const id = randomId();
    await this.db.insertInto('uploads').values({ id, desk: o.desk, declared_bytes: o.declaredBytes, received_bytes: 0, complete: 0, tip_id: null }).execute();
    await this.blobs.write(id, 0, null, { maxBytes: 0 });
    return id;
  }

  async get(id: string): Promise<UploadState | undefined> {
    const r = await this.db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
    return (
      r && {
        id: r.id,
        desk: r.desk,
        declaredBytes: r.declared_bytes,
        receivedBytes: r.received_bytes,
        complete: r.complete === 1,
        tipId: r.tip_id,
        checks: r.checks,
        checkFailed: FAILURES[r.check_failed - 1],
      }
    );
  }

  /**
   * Appends one chunk at `offset`, which must be exactly the bytes received so far.
   * Returns the new total. Errors are ApiErrors with what the client needs to resume.
   *
   * One chunk at a time per upload: a client that gave up on a stalled request
   * sends the chunk again, and the stale request may still fail (or finish)
   * later. Unserialized, its clean-up would cut the file back under the newer
   * chunk. So a chunk waits for the one before it, then checks its offset.
   * Across instances (PostgreSQL) that queue doesn't reach: there the byte
   * count moves by compare-and-set in the transaction that stores the chunk,
   * so of two chunks sent for one offset exactly one lands.
   */
  async appendChunk(id: string, offset: number, body: ReadableStream<Uint8Array> | Readable | null, o: { maxChunkBytes: number }): Promise<number> {
    const before = this.writing.get(id);
    const mine = (before ?? Promise.resolve(0)).catch(() => 0).then(() => this.appendChunkNow(id, offset, body, o));
    this.writing.set(id, mine);
    try {
      return await mine;
    } finally {
      if (this.writing.get(id) === mine) this.writing.delete(id);
    }
  }

  private async appendChunkNow(id: string, offset: number, body: ReadableStream<Uint8Array> | Readable | null, o: { maxChunkBytes: number }): Promise<number> {
    const upload = await this.get(id);
    if (!upload) throw new ApiError(404, 'no-upload', 'No such upload. Start it again.');
    if (upload.complete) throw new ApiError(409, 'upload-complete', 'This upload is already complete.');
    if (offset !== upload.receivedBytes) {
      throw new ApiError(409, 'wrong-offset', `The next chunk must start at byte ${upload.receivedBytes}. Ask for the upload's state and resume from there.`);
    }
    const room = upload.declaredBytes - upload.receivedBytes;
    let written: number;
    const commit = async (n: number, trx: TiplineDb | undefined) => {
      const r = await (trx ?? this.db)
        .updateTable('uploads')
        .set({ received_bytes: offset + n })
        .where('id', '=', id)
        .where('received_bytes', '=', offset)
        .where('complete', '=', 0)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new StaleChunkError();
    };
    try {
      written = await this.blobs.write(id, offset, body, { maxBytes: Math.min(o.maxChunkBytes, room), commit });
    } catch (e) {
      if (e instanceof StaleChunkError) {
        throw new ApiError(409, 'wrong-offset', "Another request stored a chunk at this offset first. Ask for the upload's state and resume from there.");
      }
      if (e instanceof ChunkTooLargeError) {
        throw new ApiError(413, 'too-large', room < o.maxChunkBytes ? 'The file is larger than the size declared for this upload.' : 'The chunk is larger than the limit.');
      }
      // Disk full or any write error: the blob was cut back to the last acknowledged byte.
      throw new ApiError(503, 'storage-error', 'The server could not store this chunk. Nothing was lost: resume in a moment.');
    }
    return offset + written;
  }

  /** Records a claimed blob's new size after re-keying changed its key packets (see blob-rekey.ts). */
  async setSize(id: string, bytes: number): Promise<void> {
    await this.db.updateTable('uploads').set({ received_bytes: bytes }).where('id', '=', id).execute();
  }

  /**
   * Marks an upload complete once its first `checkedBytes` passed the packet
   * check, only if no chunk arrived meanwhile (else the check didn't see it).
   * Returns false when one did.
   */
  async markComplete(id: string, checkedBytes: number): Promise<boolean> {
    const r = await this.db.updateTable('uploads').set({ complete: 1 }).where('id', '=', id).where('received_bytes', '=', checkedBytes).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Counts one `/complete` check of an upload, if it has checks left and none
   * failed. Returns false (and counts nothing) otherwise. By compare-and-set,
   * so two requests at once can't both take the last one.
   */
  async startCheck(id: string, maxChecks: number): Promise<boolean> {
    const r = await this.db
      .updateTable('uploads')
      .set((eb) => ({ checks: eb('checks', '+', 1) }))
      .where('id', '=', id)
      .where('checks', '<', maxChecks)
      .where('check_failed', '=', 0)
      .where('tip_id', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Remembers that the check refused this upload: later `/complete`s answer the same without reading it again. */
  async markCheckFailed(id: string, why: CheckFailure): Promise<void> {
    await this.db.updateTable('uploads').set({ check_failed: FAILURES.indexOf(why) + 1 }).where('id', '=', id).execute();
  }

  /**
   * The hourly aging of unclaimed uploads (run by `serve`'s clean-up job):
   * once an hour across all instances (sweep-tick.ts), every unclaimed upload
   * counts one more sweep, and those that reached `maxSweeps` are deleted with
   * their blobs. Returns how many were deleted. Claimed uploads are set back
   * to 0 by the tip that claims them, so a tip's files carry no count.
   */
  async expireUnclaimed(maxSweeps: number): Promise<number> {
    if (!Number.isInteger(maxSweeps) || maxSweeps < 1) throw new RangeError('maxSweeps must be a whole number ≥ 1');
    const ran = await this.tick.runIfDue(async (trx) => {
      await trx.updateTable('uploads').set((eb) => ({ sweeps: eb('sweeps', '+', 1) })).where('tip_id', 'is', null).execute();
    });
    if (!ran) return 0;
    const due = await this.db.selectFrom('uploads').select('id').where('tip_id', 'is', null).where('sweeps', '>=', maxSweeps).execute();
    let removed = 0;
    for (const { id } of due) {
      // A tip may claim it meanwhile (on another instance): then the row stays, and so does the blob.
      const r = await this.db.deleteFrom('uploads').where('id', '=', id).where('tip_id', 'is', null).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) continue;
      await this.blobs.delete(id);
      removed++;
    }
    return removed;
  }

  /** Uploads a tip has claimed, for the journalist API. */
  async forTips(tipIds: string[]): Promise<Map<string, { id: string; size: number }[]>> {
    const out = new Map<string, { id: string; size: number }[]>();
    if (tipIds.length === 0) return out;
    const rows = await this.db.selectFrom('uploads').select(['id', 'tip_id', 'received_bytes']).where('tip_id', 'in', tipIds).orderBy('id').execute();
    for (const r of rows) {
      const list = out.get(r.tip_id!) ?? [];
      list.push({ id: r.id, size: r.received_bytes });
      out.set(r.tip_id!, list);
    }
    return out;
  }

  /**
   * Deletes blob files no row claims any more (their tip was deleted) and
   * uploads no tip claimed within `unclaimedMs`. Returns how many went.
   */
  async sweep(unclaimedMs: number, now = Date.now()): Promise<number> {
    // Blob ids before rows: an upload's row is made before its blob, so every
    // blob listed here whose upload still exists has its row in `rows`.
    const blobIds = await this.blobs.ids();
    const rows = new Map((await this.db.selectFrom('uploads').select(['id', 'tip_id']).execute()).map((r) => [r.id, r.tip_id]));
    let removed = 0;
    for (const id of blobIds) {
      if (!rows.has(id)) {
        await this.blobs.delete(id);
        removed++;
      }
    }
    for (const id of await this.blobs.olderThan(unclaimedMs, now)) {
      if (rows.has(id) && rows.get(id) === null) {
        // A tip may claim it meanwhile (on another instance): then the row stays, and so does the blob.
        const r = await this.db.deleteFrom('uploads').where('id', '=', id).where('tip_id', 'is', null).executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) continue;
        await this.blobs.delete(id);
        removed++;
      }
    }
    await this.blobs.sweepAbandoned(unclaimedMs, now);
    return removed;
  }
}
