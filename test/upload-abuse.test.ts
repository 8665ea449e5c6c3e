/**
 * Issue 17, played by a flooder with a fast CPU and no IP address to block:
 *
 * - upload quotas: bytes per hour, unclaimed bytes in total, a free-space floor
 *   (503 `upload-quota` / `storage-full` with the error JSON), and a proof of
 *   work that is not spent when the disk refuses;
 * - unclaimed uploads expire after a few hourly sweeps (counted, not timed),
 *   once an hour however many instances sweep;
 * - `/complete`: chunk framing under 512 bytes refused at the first such
 *   header, a linear check (reads bounded by the size, not the chunk count), a
 *   refused upload is never read again, and checks are bounded per upload.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, randomBytes } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { verifyManifest, type SignedManifest } from '../crypto/manifest.ts';
import { findDataPacketStart } from '../crypto/packets.ts';
import { solveChallenge } from '../crypto/proof-of-work.ts';
import { readDataDir } from '../server/data-dir.ts';
import { openDatabase, type TiplineDb } from '../server/db/open-database.ts';
import type { BlobStore } from '../server/uploads/blob-store.ts';
import { RowBlobStore } from '../server/uploads/row-blob-store.ts';
import { UPLOAD_SWEEP_PERIOD_MS, UploadStore } from '../server/uploads/upload-store.ts';
import { MAX_CHECKS_PER_UPLOAD } from '../server/uploads/upload-api.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

let newsroom: TestNewsroom;
beforeAll(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Ana');
});
afterAll(async () => newsroom.cleanup());

describe('upload quotas', () => {
  let t: TestApp;
  // Whole hours after now (openpgp.js refuses keys signed in the app's future), so the manifest stays valid.
  const hour = (n: number) => new Date((Math.floor(Date.now() / 3_600_000) + n) * 3_600_000 + 60_000);
  let clock = hour(1);
  let free = 100 * MiB;
  beforeAll(async () => {
    t = await openTestApp(newsroom, {
      clock: () => clock,
      freeBytes: async () => free,
      limits: { maxChunkBytes: CHUNK, maxFileBytes: 8 * MiB, maxUploadBytesPerHour: 10 * MiB, maxUnclaimedUploadBytes: 16 * MiB, minFreeBytes: 20 * MiB },
    });
  });
  afterAll(async () => t.close());
  const create = (bytes: number) => t.app.request('/api/v1/uploads', json({ bytes }));

  it('caps the bytes opened per hour, and the next hour opens again', async () => {
    clock = hour(1);
    expect((await create(4 * MiB)).status).toBe(201);
    expect((await create(4 * MiB)).status).toBe(201);
    // The flooder's third 4 MiB upload this hour passes 10 MiB.
    await expectError(await create(4 * MiB), 503, 'upload-quota');
    // A refused one takes nothing from the hour: a smaller one still fits.
    expect((await create(2 * MiB)).status).toBe(201);
    clock = hour(2);
    expect((await create(4 * MiB)).status).toBe(201);
  });

  it('caps the unclaimed bytes in total (14 MiB open now; the cap is 16)', async () => {
    clock = hour(3);
    await expectError(await create(4 * MiB), 503, 'upload-quota');
    expect((await create(2 * MiB)).status).toBe(201);
    await expectError(await create(1 * MiB), 503, 'upload-quota');
    // Once no tip has claimed them for the sweeps' hours, they go, and room comes back.
    await t.db.deleteFrom('uploads').where('tip_id', 'is', null).execute();
    expect((await create(4 * MiB)).status).toBe(201);
  });

  it('keeps a free-space floor that counts what open uploads may still send: 503 storage-full', async () => {
    clock = hour(4);
    await t.db.deleteFrom('uploads').where('tip_id', 'is', null).execute();
    free = 28 * MiB; // floor 20 MiB: 8 MiB of room
    expect((await create(6 * MiB)).status).toBe(201);
    // Alone this would fit (28 - 3 ≥ 20), but the open upload may still send its 6 MiB.
    await expectError(await create(3 * MiB), 503, 'storage-full');
    expect((await create(2 * MiB)).status).toBe(201);
    free = 19 * MiB; // below the floor: nothing more
    await expectError(await create(1), 503, 'storage-full');
  });

  it('gives the page the refusal in the source\'s language', async () => {
    const page = await (await t.app.request('/submit?lang=es')).text();
    // The submit page and the inbox (follow-ups) both carry it.
    expect(await (await t.app.request('/login?lang=es')).text()).toContain('data-t-error-no-room=');
    expect(page).toContain('data-t-error-no-room="En este momento el buzón no tiene espacio para archivos.');
  });
});

describe('the proof of work for an upload', () => {
  let t: TestApp;
  let free = 100 * MiB;
  beforeAll(async () => {
    t = await openTestApp(newsroom, { pow: { baseDifficulty: 4 }, freeBytes: async () => free, limits: { maxFileBytes: 64 * MiB, minFreeBytes: 20 * MiB } });
  });
  afterAll(async () => t.close());
  const answer = async (body: unknown) => {
    const { challenge } = (await (await t.app.request('/api/v1/challenge', json(body))).json()) as { challenge: string };
    return { challenge, nonce: await solveChallenge(challenge) };
  };

  it('costs more for a bigger declared size; a cheap answer buys only a small upload', async () => {
    const small = (await (await t.app.request('/api/v1/challenge', json({ purpose: 'upload', bytes: MiB }))).json()) as { difficulty: number };
    const big = (await (await t.app.request('/api/v1/challenge', json({ purpose: 'upload', bytes: 64 * MiB }))).json()) as { difficulty: number };
    expect(small.difficulty).toBe(4);
    expect(big.difficulty).toBe(6); // 4× the size above 16 MiB: 4× the work
    const cheap = await answer({ purpose: 'upload', bytes: MiB });
    await expectError(await t.app.request('/api/v1/uploads', json({ bytes: 64 * MiB, pow: cheap })), 409, 'pow-too-easy');
    const paid = await answer({ purpose: 'upload', bytes: 64 * MiB });
    expect((await t.app.request('/api/v1/uploads', json({ bytes: 64 * MiB, pow: paid }))).status).toBe(201);
  });

  it('is not spent when the disk refuses: the same answer works once there is room', async () => {
    const pow = await answer({ purpose: 'upload', bytes: MiB });
    free = 10 * MiB;
    await expectError(await t.app.request('/api/v1/uploads', json({ bytes: MiB, pow })), 503, 'storage-full');
    free = 100 * MiB;
    expect((await t.app.request('/api/v1/uploads', json({ bytes: MiB, pow }))).status).toBe(201);
    await expectError(await t.app.request('/api/v1/uploads', json({ bytes: MiB, pow })), 409, 'pow-replayed');
  });
});

describe('unclaimed uploads expire after hourly sweeps, counted, not timed', () => {
  let dir: string;
  let db: TiplineDb;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tipline-sweeps-'));
    db = await openDatabase(join(dir, 'tipline.db'));
  });
  afterAll(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('deletes an unclaimed upload at the sixth sweep, not before; two instances sweeping every 10 minutes still age it once an hour', async () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const clock = () => new Date(now);
    const blobs = new RowBlobStore(db, clock);
    const a = new UploadStore(db, blobs, clock);
    const b = new UploadStore(db, blobs, clock);
    const id = await a.create({ declaredBytes: 1000, desk: null });
    await a.appendChunk(id, 0, new Blob([randomBytes(1000) as Uint8Array<ArrayBuffer>]).stream(), { maxChunkBytes: CHUNK });
    const sweeps = async () => (await db.selectFrom('uploads').select('sweeps').where('id', '=', id).executeTakeFirst())?.sweeps;
    let deleted = 0;
    // Five and a half hours of both instances running their job every 10 minutes.
    for (let minute = 0; minute <= 5 * 60 + 30; minute += 10) {
      now = Date.parse('2026-12-01T00:00:00Z') + minute * 60_000;
      deleted += (await a.expireUnclaimed(6)) + (await b.expireUnclaimed(6));
    }
    expect(deleted).toBe(0);
    // One sweep per 55 minutes at most between them: at most 6 in 330 minutes, but the sixth takes the row, so here 5.
    expect(await sweeps()).toBe(5);
    for (let minute = 5 * 60 + 40; minute <= 7 * 60; minute += 10) {
      now = Date.parse('2026-12-01T00:00:00Z') + minute * 60_000;
      deleted += (await a.expireUnclaimed(6)) + (await b.expireUnclaimed(6));
    }
    expect(deleted).toBe(1);
    expect(await sweeps()).toBeUndefined();
    expect(await blobs.ids()).not.toContain(id);
    // The table holds a random token, no time.
    const ticks = await db.selectFrom('sweep_ticks').selectAll().execute();
    expect(ticks).toHaveLength(1);
    expect(ticks[0]!.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('a fresh store (admin maintain, a restart) never sweeps on its first look: no early aging', async () => {
    const store = new UploadStore(db, new RowBlobStore(db));
    const id = await store.create({ declaredBytes: 10, desk: null });
    expect(await store.expireUnclaimed(1)).toBe(0);
    expect((await store.get(id))?.id).toBe(id);
  });
});

describe('/complete', () => {
  let t: TestApp;
  let appDb: TiplineDb;
  let keyPackets: Uint8Array;
  let reads = 0;
  beforeAll(async () => {
    const dataDir = await readDataDir(newsroom.dataDir, newsroom);
    appDb = await openDatabase(dataDir.database);
    const rows = new RowBlobStore(appDb);
    // The app's own store, with its random reads counted.
    const counting: BlobStore = Object.assign(Object.create(rows) as BlobStore, {
      readAt: (id: string, offset: number, length: number) => {
        reads++;
        return rows.readAt(id, offset, length);
      },
    });
    t = await openTestApp(newsroom, { db: appDb, blobs: counting, limits: { maxChunkBytes: CHUNK, maxFileBytes: 8 * MiB } });
    const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
    const manifest = verifyManifest(signed, dataDir.newsroomPublicKey, { today: utcDay() });
    const keys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
    // Real key packets to the desk: the framing below is what the flooder controls.
    const real = await encryptToKeys(randomBytes(100), keys);
    keyPackets = real.subarray(0, await findDataPacketStart(async (at, n) => real.subarray(at, at + n), real.length));
  });
  afterAll(async () => {
    await t.close();
    await appDb.destroy();
  });

  /** A data packet whose body is a 512-byte first chunk, then `count` partial chunks of 2^power bytes, then 64 bytes. */
  function framed(power: number, count: number): Uint8Array {
    const first = concatBytes(Uint8Array.of(0xd2, 0xe0 + 9, 1), randomBytes(511));
    const piece = concatBytes(Uint8Array.of(0xe0 + power), randomBytes(2 ** power));
    const pieces = new Uint8Array(piece.length * count);
    for (let i = 0; i < count; i++) pieces.set(piece, i * piece.length);
    return concatBytes(keyPackets, first, pieces, Uint8Array.of(64), randomBytes(64));
  }
  async function upload(bytes: Uint8Array): Promise<string> {
    const res = await t.app.request('/api/v1/uploads', json({ bytes: bytes.length }));
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    for (let at = 0; at < bytes.length; at += CHUNK) {
      const put = await t.app.request(`/api/v1/uploads/${id}?offset=${at}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes.subarray(at, at + CHUNK) as Uint8Array<ArrayBuffer> });
      expect(put.status).toBe(200);
    }
    return id;
  }
  const complete = (id: string) => t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' });

  it('refuses 2 MiB of one-byte partial chunks at the first one (main: 291 s of checking, then accepted)', async () => {
    const id = await upload(framed(0, MiB)); // a million chunks
    reads = 0;
    const started = performance.now();
    await expectError(await complete(id), 422, 'not-encrypted');
    const ms = performance.now() - started;
    expect(reads).toBeLessThan(20);
    expect(ms).toBeLessThan(5_000);
    console.log(`[upload-abuse] 2 MiB of 1-byte chunks refused in ${ms.toFixed(0)} ms, ${reads} reads`);
  });

  it('checks 4 MiB of 512-byte chunks (the most headers allowed) in reads bounded by the size, not the 8192 headers', async () => {
    const bytes = framed(9, 8192);
    const id = await upload(bytes);
    reads = 0;
    const started = performance.now();
    expect((await complete(id)).status).toBe(200);
    const ms = performance.now() - started;
    // One 1 MiB window per MiB (and a few for the key packets and the tail), not one read per chunk header.
    expect(reads).toBeLessThan(Math.ceil(bytes.length / MiB) * 2 + 10);
    console.log(`[upload-abuse] ${(bytes.length / MiB).toFixed(1)} MiB of 512-byte chunks checked in ${ms.toFixed(0)} ms, ${reads} reads`);
  });

  it('remembers a refused upload: a second /complete answers the same without reading it', async () => {
    const id = await upload(framed(0, 4096));
    await expectError(await complete(id), 422, 'not-encrypted');
    reads = 0;
    for (let i = 0; i < 5; i++) await expectError(await complete(id), 422, 'not-encrypted');
    expect(reads).toBe(0);
  });

  it('pays for a bounded number of checks per upload (the upload\'s proof of work buys them)', async () => {
    const id = await upload(framed(9, 16));
    const uploads = new UploadStore(appDb, new RowBlobStore(appDb));
    // As if earlier checks had raced with chunks (409 upload-changed) until the budget was spent.
    for (let i = 0; i < MAX_CHECKS_PER_UPLOAD; i++) expect(await uploads.startCheck(id, MAX_CHECKS_PER_UPLOAD)).toBe(true);
    expect(await uploads.startCheck(id, MAX_CHECKS_PER_UPLOAD)).toBe(false);
    reads = 0;
    await expectError(await complete(id), 429, 'too-many-checks');
    expect(reads).toBe(0);
  });
});
