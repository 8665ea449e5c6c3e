/**
 * Which new uploads the disk can take: before an upload is opened, its
 * declared size is weighed against three limits, so a flooder with a fast CPU
 * can't fill the disk and make every tip fail.
 *
 * - **Per hour:** declared bytes of uploads opened in the current clock hour,
 *   counted in memory only (one number and the hour it is for; nothing is
 *   stored, so no time is), per instance.
 * - **In total:** declared bytes of every upload no tip has claimed yet (an
 *   upload reserves its whole declared size from the start, so a flooder
 *   can't declare little and send much, nor reserve much for free: each
 *   byte reserved was paid for by a proof of work that grows with the size,
 *   see server/abuse/pow-guard.ts).
 * - **Free space:** the disk must keep `minFreeBytes` free after every open
 *   upload has received what it declared. Checked on the data folder's disk,
 *   i.e. only on SQLite; on PostgreSQL the database's disk is elsewhere and
 *   the total cap is what bounds it.
 *
 * Refusals are 503 with the error JSON: `upload-quota` (try again later) or
 * `storage-full`; the source page shows either in the source's language.
 *
 * @module
 * @example
 * const quota = new UploadQuota(db, { maxUnclaimedBytes, maxBytesPerHour, minFreeBytes, freeBytes: () => freeBytesOn('/srv/tipline') });
 * const release = await quota.admit(declaredBytes); // throws ApiError 503, or reserves the hour's share
 * try { await uploads.create(…); } catch (e) { release(); throw e; }
 */
import { statfs } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Limits } from '../config.ts';
import { isPostgres } from '../db/dialect.ts';
import type { TiplineDb } from '../db/open-database.ts';
import { ApiError } from '../http/api-error.ts';

export type UploadQuotaOptions = {
  maxUnclaimedBytes: number;
  maxBytesPerHour: number;
  minFreeBytes: number;
  /** Bytes free for the database's files; undefined where that isn't this machine's disk (PostgreSQL). */
  freeBytes?: (() => Promise<number>) | undefined;
  clock?: () => Date;
};

/** Free bytes for an unprivileged writer on the file system holding `path`. */
export async function freeBytesOn(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

export class UploadQuota {
  /** The clock hour (hours since 1970) `hourBytes` counts for: memory only. */
  private hour = -1;
  private hourBytes = 0;

  /** The quota the limits ask for, with the free space of `dataDir`'s disk on SQLite (on PostgreSQL the blobs are on the database's disk). */
  static fromLimits(db: TiplineDb, limits: Limits, o: { dataDir: string; freeBytes?: (() => Promise<number>) | undefined; clock?: (() => Date) | undefined }): UploadQuota {
    return new UploadQuota(db, {
      maxUnclaimedBytes: limits.maxUnclaimedUploadBytes,
      maxBytesPerHour: limits.maxUploadBytesPerHour,
      minFreeBytes: limits.minFreeBytes,
      freeBytes: o.freeBytes ?? (isPostgres(db) ? undefined : () => freeBytesOn(o.dataDir)),
      ...(o.clock ? { clock: o.clock } : {}),
    });
  }

  constructor(
    private readonly db: TiplineDb,
    private readonly o: UploadQuotaOptions,
  ) {
    for (const [name, v] of Object.entries({ maxUnclaimedBytes: o.maxUnclaimedBytes, maxBytesPerHour: o.maxBytesPerHour, minFreeBytes: o.minFreeBytes })) {
      if (!(v >= 0)) throw new RangeError(`${name} must be a number ≥ 0`);
    }
  }

  /**
   * Admits an upload of `declaredBytes` or throws ApiError 503. On success the
   * bytes count towards this hour; the returned function takes them back (for
   * when the upload could not be opened after all).
   */
  async admit(declaredBytes: number): Promise<() => void> {
    if (!Number.isSafeInteger(declaredBytes) || declaredBytes <= 0) throw new RangeError('declaredBytes must be a positive integer');
    // The hour's share is taken first, synchronously, so requests arriving together can't all pass on the same count.
    const hour = Math.floor((this.o.clock?.() ?? new Date()).getTime() / 3_600_000);
    if (hour !== this.hour) {
      this.hour = hour;
      this.hourBytes = 0;
    }
    if (this.hourBytes + declaredBytes > this.o.maxBytesPerHour) throw busy();
    this.hourBytes += declaredBytes;
    let released = false;
    const release = () => {
      if (released || this.hour !== hour) return;
      released = true;
      this.hourBytes -= declaredBytes;
    };
    try {
      const open = await this.unclaimed();
      if (open.declared + declaredBytes > this.o.maxUnclaimedBytes) throw busy();
      if (this.o.freeBytes) {
        const free = await this.o.freeBytes();
        if (free - (open.declared - open.received) - declaredBytes < this.o.minFreeBytes) {
          throw new ApiError(503, 'storage-full', 'The tip line has no room for this file right now. Nothing was sent. Please try again later, or send the tip without it.');
        }
      }
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /** Declared and received bytes of all uploads no tip has claimed. */
  private async unclaimed(): Promise<{ declared: number; received: number }> {
    const r = await this.db
      .selectFrom('uploads')
      .select([sql<string | number | null>`sum(declared_bytes)`.as('declared'), sql<string | number | null>`sum(received_bytes)`.as('received')])
      .where('tip_id', 'is', null)
      .executeTakeFirst();
    return { declared: Number(r?.declared ?? 0), received: Number(r?.received ?? 0) };
  }
}

function busy(): ApiError {
  return new ApiError(503, 'upload-quota', 'The tip line is receiving many files right now. Nothing was sent. Please try again in an hour, or send the tip without the file.');
}
