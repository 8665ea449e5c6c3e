/**
 * The {@link BlobStore} (blobs.ts) on both databases: attachment ciphertext as
 * rows of at most 1 MiB in `blob_chunks` (migration 0006 on PostgreSQL; 0008
 * on SQLite, a rowid table with random ids since 0017). On PostgreSQL every
 * instance on the database reaches every blob. On SQLite the rows replace the old one-file-per-upload store, because a file's
 * birth time, mtime and ctime are its upload's time, and a birth time can't be
 * changed from user space; rows carry no time, take `secure_delete` when they
 * go, and lose their physical order in `tipline admin maintain`. Only one row
 * is in memory at a time, whichever way the bytes go.
 *
 * A blob id names a *content* key (`blobs.content`), and the chunks belong to
 * the content. On SQLite a write at the blob's end (every upload chunk)
 * streams its rows straight under the blob's key and, if it fails, deletes
 * them from `offset` on; the store runs one write, replace or delete per blob
 * at a time, so nothing else touches those rows meanwhile. Every other write
 * (and every write on PostgreSQL, where several instances share the rows)
 * first streams its chunks under a fresh key, one
 * short statement per row (a slow Tor upload holds no connection or lock
 * meanwhile), then one short transaction splices them into the blob, or, for
 * `replace`, points the blob at them and drops the old ones. So a failed or
 * refused write changes nothing, two writers can't interleave rows, and a
 * reader that started before a `replace` either finishes on the old content or
 * stops with an error; it never mixes the two. A `replace` with `ifStartsWith`
 * compares inside that transaction, after locking the blob's row, so two
 * replaces on two instances can't both pass it on the same old content.
 *
 * @example
 * const blobs = new RowBlobStore(db);
 * await blobs.write(id, 0, body, { maxBytes: 8 << 20 });
 * const rest = blobs.read(id, 1 << 20); // from byte 1 MiB on
 */
import { type RawBuilder, sql } from 'kysely';
import { randomId } from '../../crypto/bytes.ts';
import { utcDay } from '../../crypto/day.ts';
import { SQLITE_SYNCHRONOUS, SQLITE_WAL_AUTOCHECKPOINT, type TiplineDb } from '../db/open-database.ts';
import { isPostgres } from '../db/dialect.ts';
import { BlobChangedError, BlobPathError, writeInRuns } from './blob-store.ts';
import type { BlobBody, BlobReplaceOptions, BlobStore, BlobWriteOptions } from './blob-store.ts';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
/** The most bytes one row holds (rows are shorter only at a blob's end or where a write began). */
export const CHUNK_BYTES = 1024 * 1024;

export class NoSuchBlobError extends Error {
  override name = 'NoSuchBlobError';
}

export class RowBlobStore implements BlobStore {
  private readonly sql: RowSql;
  private readonly postgres: boolean;
  /** The last write, replace or delete queued per blob id (SQLite only): see oneAtATime. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: TiplineDb,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.postgres = isPostgres(db);
    this.sql = rowSql(this.postgres);
  }

  async write(id: string, offset: number, body: BlobBody, o: BlobWriteOptions): Promise<number> {
    checkId(id);
    if (this.postgres) return this.writeStaged(id, offset, body, o);
    return this.oneAtATime(id, async () => {
      const blob = await this.db.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirst();
      if (blob && offset === (await sizeOf(this.db, this.sql, blob.content))) return this.append(id, blob.content, offset, body, o);
      return this.writeStaged(id, offset, body, o);
    });
  }

  /**
   * The upload case on SQLite: `offset` is the blob's end, so the rows go
   * straight under its content key and nothing is re-keyed (re-keying moved
   * every byte a second time: 14 MiB/s against 273 for a plain file). Rows
   * past `offset` are never part of what was stored before, so a failure
   * deletes them in one statement and the bytes before `offset` are as they
   * were. The bytes count only once `commit` ran in the closing transaction.
   * Safe because {@link oneAtATime} lets no other write, replace or delete of
   * this blob run meanwhile (SQLite has one server process; PostgreSQL, with
   * several instances, keeps the staged path).
   */
  private async append(id: string, content: string, offset: number, body: BlobBody, o: BlobWriteOptions): Promise<number> {
    try {
      const written = body ? await writeInRuns(body, { runBytes: CHUNK_BYTES, maxBytes: o.maxBytes }, (run, at) => this.insertRow(content, offset + at, run)) : 0;
      await this.db.transaction().execute(async (trx) => {
        const now = await trx.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirst();
        if (now?.content !== content) throw new BlobChangedError('the blob changed while it was written');
        await trx.updateTable('blobs').set({ written_day: this.today() }).where('id', '=', id).execute();
        await o.commit?.(written, trx);
      });
      return written;
    } catch (e) {
      await this.db.deleteFrom('blob_chunks').where('content', '=', content).where('start', '>=', offset).execute().catch(() => {});
      throw e;
    }
  }

  /** Runs `task` after every earlier write, replace or delete of blob `id` in this store has settled (SQLite only). */
  private oneAtATime<T>(id: string, task: () => Promise<T>): Promise<T> {
    const mine = (this.busy.get(id) ?? Promise.resolve()).catch(() => {}).then(task);
    this.busy.set(id, mine);
    const forget = () => {
      if (this.busy.get(id) === mine) this.busy.delete(id);
    };
    mine.then(forget, forget);
    return mine;
  }

  /** Streams the chunks aside under a fresh content key, then splices them in with one transaction. */
  private async writeStaged(id: string, offset: number, body: BlobBody, o: BlobWriteOptions): Promise<number> {
    const staged = randomId();
    const written = await this.stage(staged, offset, body, o.maxBytes);
    try {
      await this.db.transaction().execute(async (trx) => {
        const blob = await trx.selectFrom('blobs').select('content').where('id', '=', id).$call(this.sql.lockRow).executeTakeFirst();
        if (offset === 0) {
          // Starting afresh, as opening a file with 'w' does.
          if (blob) await trx.deleteFrom('blob_chunks').where('content', '=', blob.content).execute();
          await trx
            .insertInto('blobs')
            .values({ id, content: staged, written_day: this.today() })
            .onConflict((oc) => oc.column('id').doUpdateSet({ content: staged, written_day: this.today() }))
            .execute();
        } else {
          if (!blob) throw new NoSuchBlobError('no such blob');
          const size = await sizeOf(trx, this.sql, blob.content);
          if (offset > size) throw new RangeError(`offset ${offset} is past the blob's end (${size})`);
          await trx.deleteFrom('blob_chunks').where('content', '=', blob.content).where('start', '>=', offset).execute();
          // The row that runs past `offset` (a chunk written before that is now written again) keeps only what came before it.
          await trx
            .updateTable('blob_chunks')
            .set({ bytes: this.sql.head(offset) })
            .where('content', '=', blob.content)
            .where('start', '<', offset)
            .where(this.sql.endsAfter(offset))
            .execute();
          await trx.updateTable('blob_chunks').set({ content: blob.content }).where('content', '=', staged).execute();
          await trx.updateTable('blobs').set({ written_day: this.today() }).where('id', '=', id).execute();
        }
        await trx.deleteFrom('blob_staging').where('content', '=', staged).execute();
        await o.commit?.(written, trx);
      });
    } catch (e) {
      await this.discard(staged);
      throw e;
    }
    return written;
  }

  async replace(id: string, body: ReadableStream<Uint8Array>, o: BlobReplaceOptions): Promise<number> {
    checkId(id);
    return this.postgres ? this.replaceNow(id, body, o) : this.oneAtATime(id, () => this.replaceNow(id, body, o));
  }

  private async replaceNow(id: string, body: ReadableStream<Uint8Array>, o: BlobReplaceOptions): Promise<number> {
    const staged = randomId();
    const written = await this.stage(staged, 0, body, o.maxBytes);
    try {
      await this.db.transaction().execute(async (trx) => {
        const blob = await trx.selectFrom('blobs').select('content').where('id', '=', id).$call(this.sql.lockRow).executeTakeFirst();
        if (!blob) throw new NoSuchBlobError('no such blob');
        // Under the row lock: a replace on another instance that got it first has committed by now, and this reads its content.
        if (o.ifStartsWith && !Buffer.from(await readRange(trx, this.sql, blob.content, 0, o.ifStartsWith.length)).equals(o.ifStartsWith)) {
          throw new BlobChangedError('the blob changed before it could be replaced');
        }
        await trx.updateTable('blobs').set({ content: staged, written_day: this.today() }).where('id', '=', id).execute();
        await trx.deleteFrom('blob_chunks').where('content', '=', blob.content).execute();
        await trx.deleteFrom('blob_staging').where('content', '=', staged).execute();
      });
    } catch (e) {
      await this.discard(staged);
      throw e;
    }
    return written;
  }

  read(id: string, start = 0): ReadableStream<Uint8Array> {
    checkId(id);
    let content: string | undefined;
    let end = 0;
    let position = start;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          if (content === undefined) {
            const blob = await this.db.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirst();
            if (!blob) throw new NoSuchBlobError('no such blob');
            content = blob.content;
            end = await sizeOf(this.db, this.sql, content);
            if (start > end) {
              // Its rows may be gone because a replace swapped in new content between the two reads.
              const now = await this.db.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirst();
              if (now?.content !== content) throw new BlobChangedError('the blob changed while it was read');
              throw new RangeError(`start ${start} is past the blob's end (${end})`);
            }
          }
          if (position >= end) return controller.close();
          // The one row holding `position` (rows are at most CHUNK_BYTES long, which bounds the index range).
          const row = await this.db
            .selectFrom('blob_chunks')
            .select(['start', this.sql.tail(position).as('part')])
            .where('content', '=', content)
            .where('start', '<=', position)
            .where('start', '>', position - CHUNK_BYTES)
            .orderBy('start', 'desc')
            .limit(1)
            .executeTakeFirst();
          if (!row || row.part.length === 0) throw new BlobChangedError('the blob changed while it was read');
          controller.enqueue(row.part);
          position += row.part.length;
        },
      },
      { highWaterMark: 1 },
    );
  }

  async readAt(id: string, offset: number, length: number): Promise<Uint8Array> {
    checkId(id);
    const blob = await this.db.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirst();
    if (!blob) throw new NoSuchBlobError('no such blob');
    return readRange(this.db, this.sql, blob.content, offset, length);
  }

  async size(id: string): Promise<number> {
    if (!ID_RE.test(id)) throw new BlobPathError('not a blob id');
    const blob = await this.db.selectFrom('blobs').select('content').where('id', '=', id).executeTakeFirst();
    return blob ? sizeOf(this.db, this.sql, blob.content) : 0;
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    if (this.postgres) return this.deleteNow(id);
    return this.oneAtATime(id, () => this.deleteNow(id));
  }

  private async deleteNow(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const blob = await trx.selectFrom('blobs').select('content').where('id', '=', id).$call(this.sql.lockRow).executeTakeFirst();
      if (!blob) return;
      await trx.deleteFrom('blob_chunks').where('content', '=', blob.content).execute();
      await trx.deleteFrom('blobs').where('id', '=', id).execute();
    });
  }

  /**
   * Only days are stored, so a blob counts as older than `ageMs` once the day
   * it was last written ended more than `ageMs` ago: never early, at most a day late.
   */
  async olderThan(ageMs: number, now = Date.now()): Promise<string[]> {
    if (!Number.isFinite(ageMs)) return [];
    const rows = await this.db.selectFrom('blobs').select('id').where('written_day', '<', utcDay(new Date(now - ageMs))).execute();
    return rows.map((r) => r.id);
  }

  async ids(): Promise<string[]> {
    return (await this.db.selectFrom('blobs').select('id').execute()).map((r) => r.id);
  }

  /** Chunks that a write streamed aside but never spliced in (the instance stopped halfway). */
  async sweepAbandoned(ageMs: number, now = Date.now()): Promise<void> {
    if (!Number.isFinite(ageMs)) return;
    const rows = await this.db.selectFrom('blob_staging').select('content').where('started_day', '<', utcDay(new Date(now - ageMs))).execute();
    for (const r of rows) await this.discard(r.content);
  }

  /** Streams `body` into rows under the content key `staged`, rows starting at byte `offset`. */
  private async stage(staged: string, offset: number, body: BlobBody, maxBytes: number): Promise<number> {
    await this.db.insertInto('blob_staging').values({ content: staged, started_day: this.today() }).execute();
    try {
      if (!body) return 0;
      // One row a run; pg has sent the run's bytes by the time the insert resolves.
      return await writeInRuns(body, { runBytes: CHUNK_BYTES, maxBytes }, (run, at) => this.insertRow(staged, offset + at, run));
    } catch (e) {
      await this.discard(staged);
      throw e;
    }
  }

  /**
   * One row of `content`, committed on its own. On SQLite its id is
   * `random()` (migration 0017), and the statement runs on the connection,
   * held meanwhile so that no other query (a tip's commit) runs under the
   * two settings it lifts:
   *
   * - `synchronous = NORMAL`: the row's commit skips the fsync. The rows
   *   count only once the transaction that closes the write commits at
   *   FULL, and that commit's fsync of the WAL makes every frame before it
   *   durable too: one fsync per chunk instead of one per row. A power loss
   *   before it leaves rows that count for nothing, as a killed process
   *   does: past the byte count (the next write at that offset deletes them)
   *   or under a staged key (swept by sweepAbandoned).
   * - `wal_autocheckpoint = 0`: the row's commit doesn't checkpoint (two
   *   more fsyncs, every 4 MiB). The closing commit does, once the WAL is
   *   past 1000 pages, so an 8 MiB chunk costs one checkpoint, not two, and
   *   the WAL grows by at most a chunk meanwhile.
   */
  private async insertRow(content: string, start: number, bytes: Uint8Array): Promise<void> {
    if (this.postgres) {
      await this.db.insertInto('blob_chunks').values({ content, start, bytes }).execute();
      return;
    }
    await this.db.connection().execute(async (c) => {
      await sql`PRAGMA synchronous = NORMAL`.execute(c);
      await sql`PRAGMA wal_autocheckpoint = 0`.execute(c);
      try {
        await c.insertInto('blob_chunks').values({ id: sql<number>`random()`, content, start, bytes }).execute();
      } finally {
        await sql.raw(`PRAGMA ${SQLITE_SYNCHRONOUS}`).execute(c);
        await sql.raw(`PRAGMA ${SQLITE_WAL_AUTOCHECKPOINT}`).execute(c);
      }
    });
  }

  private async discard(staged: string): Promise<void> {
    await this.db
      .transaction()
      .execute(async (trx) => {
        await trx.deleteFrom('blob_chunks').where('content', '=', staged).execute();
        await trx.deleteFrom('blob_staging').where('content', '=', staged).execute();
      })
      .catch(() => {});
  }

  private today(): string {
    return utcDay(this.clock());
  }
}

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new BlobPathError('not a blob id');
}

/**
 * The few expressions PostgreSQL and SQLite spell differently: PostgreSQL's
 * `substring(… from … for …)` and `octet_length` with bigint casts, SQLite's
 * `substr` and `length` (a blob's length is in bytes). Row locks exist only on
 * PostgreSQL; SQLite runs one transaction at a time on its one connection.
 */
type RowSql = {
  lockRow: <T>(qb: T) => T;
  /** The row's bytes before blob byte `offset`. */
  head: (offset: number) => RawBuilder<Uint8Array>;
  /** The row's bytes from blob byte `position` on. */
  tail: (position: number) => RawBuilder<Uint8Array>;
  /** Blob byte where the row ends. */
  end: () => RawBuilder<number>;
  endsAfter: (offset: number) => RawBuilder<boolean>;
  /** The part of the row that lies in [offset, until). */
  overlap: (offset: number, until: number) => RawBuilder<Uint8Array>;
};

function rowSql(postgres: boolean): RowSql {
  if (postgres) {
    return {
      lockRow: (qb) => (qb as unknown as { forUpdate: () => unknown }).forUpdate() as typeof qb,
      head: (offset) => sql<Uint8Array>`substring(bytes from 1 for (${offset}::bigint - start)::int)`,
      tail: (position) => sql<Uint8Array>`substring(bytes from (${position}::bigint - start + 1)::int)`,
      end: () => sql<number>`start + octet_length(bytes)`,
      endsAfter: (offset) => sql<boolean>`start + octet_length(bytes) > ${offset}::bigint`,
      overlap: (offset, until) =>
        sql<Uint8Array>`substring(bytes from (greatest(${offset}::bigint - start, 0) + 1)::int for (least(start + octet_length(bytes), ${until}::bigint) - greatest(start, ${offset}::bigint))::int)`,
    };
  }
  return {
    lockRow: (qb) => qb,
    head: (offset) => sql<Uint8Array>`substr(bytes, 1, ${offset} - start)`,
    tail: (position) => sql<Uint8Array>`substr(bytes, ${position} - start + 1)`,
    end: () => sql<number>`start + length(bytes)`,
    endsAfter: (offset) => sql<boolean>`start + length(bytes) > ${offset}`,
    overlap: (offset, until) => sql<Uint8Array>`substr(bytes, max(${offset} - start, 0) + 1, min(start + length(bytes), ${until}) - max(start, ${offset}))`,
  };
}

async function sizeOf(db: TiplineDb, q: RowSql, content: string): Promise<number> {
  const last = await db
    .selectFrom('blob_chunks')
    .select(q.end().as('end'))
    .where('content', '=', content)
    .orderBy('start', 'desc')
    .limit(1)
    .executeTakeFirst();
  return last ? Number(last.end) : 0;
}

/** At most `length` bytes of the content `content` from `offset`. */
async function readRange(db: TiplineDb, q: RowSql, content: string, offset: number, length: number): Promise<Uint8Array> {
  const until = offset + length;
  // Only the overlapping part of each row leaves the server (EXTERNAL storage lets substring read just that, on PostgreSQL).
  const rows = await db
    .selectFrom('blob_chunks')
    .select(['start', q.overlap(offset, until).as('part')])
    .where('content', '=', content)
    .where('start', '<', until)
    .where('start', '>', offset - CHUNK_BYTES)
    .where(q.endsAfter(offset))
    .orderBy('start')
    .execute();
  // One row holds the whole range (the usual case for the check's windows): its part is the answer, no copy.
  if (rows.length === 1 && rows[0]!.start <= offset) return rows[0]!.part;
  const out = new Uint8Array(length);
  let filled = 0;
  for (const r of rows) {
    const at = Math.max(r.start, offset) - offset;
    if (at !== filled) break; // a gap can't happen in a blob; stop rather than return bytes out of place
    out.set(r.part, at);
    filled += r.part.length;
  }
  return out.subarray(0, filled);
}
