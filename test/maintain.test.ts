/**
 * `tipline admin maintain` and `tipline admin stats` (server/admin/maintain.ts,
 * stats.ts): what the sweeps remove and keep, that serve's daily run fires
 * after midnight and not at start-up, bad input refused in one line, and an
 * upgraded data directory (attachments as files in blobs/) moved into rows
 * with every tip and attachment still readable. SQLite only: the rebuild is
 * SQLite's (the examiner test, seizure-examiner.test.ts, checks its effect).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { utcDay, addDays } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { maintainDatabase, startDailyMaintenance } from '../server/admin/maintain.ts';
import { dailyStats } from '../server/admin/stats.ts';
import { RowBlobStore } from '../server/uploads/row-blob-store.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli } from './helpers/server-process.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let keys: openpgp.PublicKey[];

const post = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const auth = () => ({ headers: { authorization: `Bearer ${ana.token}` } });

async function sendTip(message: string, attachments: string[] = []): Promise<string> {
  const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message, fields: {} })), keys);
  const res = await t.app.request('/api/v1/tips', post({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)), attachments }));
  expect(res.status).toBe(201);
  return ((await res.json()) as { receipt: string }).receipt;
}

async function sendUpload(plaintext: Uint8Array): Promise<{ id: string; ciphertext: Uint8Array }> {
  const ciphertext = new Uint8Array(await new Response(await encryptFileStream(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), keys)).arrayBuffer());
  const created = await t.app.request('/api/v1/uploads', post({ bytes: ciphertext.length }));
  const { id } = (await created.json()) as { id: string };
  expect((await t.app.request(`/api/v1/uploads/${id}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: ciphertext })).status).toBe(200);
  expect((await t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(200);
  return { id, ciphertext };
}

async function decryptBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: bytes }), decryptionKeys: ana.privateKey, format: 'binary' });
  return data as Uint8Array;
}

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  t = await openTestApp(newsroom);
  const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
});

afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

describe('maintainDatabase', () => {
  it('deletes spent challenges of past days, spent form tokens before yesterday and unclaimed uploads, keeps today\'s and claimed attachments, and rebuilds', async () => {
    const now = new Date();
    // Rows hold the UTC day a challenge expires on: yesterday's can't be valid any more; today's (or tomorrow's, for one taken just before midnight) may be.
    await t.db
      .insertInto('spent_challenges')
      .values([
        { id: 'expired-one', day: addDays(utcDay(now), -1) },
        { id: 'still-live', day: utcDay(now) },
        { id: 'past-midnight', day: addDays(utcDay(now), 1) },
      ])
      .execute();
    // Form tokens live at most a day: one spent yesterday may still be replayed today, one spent the day before can't.
    await t.db
      .insertInto('spent_form_tokens')
      .values([
        { id: 'token-two-days-ago', day: addDays(utcDay(now), -2) },
        { id: 'token-yesterday', day: addDays(utcDay(now), -1) },
      ])
      .execute();
    const abandoned = await sendUpload(randomBytes(3000));
    const claimed = await sendUpload(randomBytes(3000));
    await sendTip('with a file', [claimed.id]);
    // The abandoned upload was last written two days ago (rows hold days only).
    await t.db.updateTable('blobs').set({ written_day: addDays(utcDay(now), -2) }).where('id', '=', abandoned.id).execute();

    const r = await maintainDatabase(t.db, { blobs: new RowBlobStore(t.db), retentionDays: 90, unclaimedUploadMs: 24 * 60 * 60 * 1000, now });
    expect(r).toMatchObject({ uploads: 1, challenges: 1, formTokens: 1, rebuilt: true });
    const tokens = (await t.db.selectFrom('spent_form_tokens').select('id').execute()).map((x) => x.id);
    expect(tokens).toContain('token-yesterday');
    expect(tokens).not.toContain('token-two-days-ago');
    const challenges = (await t.db.selectFrom('spent_challenges').select('id').execute()).map((c) => c.id);
    expect(challenges).toEqual(expect.arrayContaining(['still-live', 'past-midnight']));
    expect(challenges).not.toContain('expired-one');
    expect((await t.app.request(`/api/v1/uploads/${abandoned.id}`)).status).toBe(404);
    const kept = await t.app.request(`/api/v1/journalist/blobs/${claimed.id}`, auth());
    expect(kept.status).toBe(200);
    expect(Buffer.from(await kept.arrayBuffer()).equals(Buffer.from(claimed.ciphertext))).toBe(true);
  });

  it('runs from serve after each UTC midnight, once, and not at start-up', async () => {
    let now = new Date('2026-12-06T23:59:58Z');
    const lines: string[] = [];
    const stop = startDailyMaintenance(t.db, { blobs: new RowBlobStore(t.db), retentionDays: 90, unclaimedUploadMs: 86_400_000, log: (l) => lines.push(l), everyMs: 10, clock: () => now });
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(lines).toEqual([]);
      now = new Date('2026-12-07T00:00:03Z');
      for (let i = 0; i < 200 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 100));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^maintenance: done \(.*database rebuilt and WAL emptied\)$/);
    } finally {
      stop();
    }
  });
});

describe('tipline admin stats', () => {
  it("counts today's tips and attachments, and refuses a bad --days in one line", async () => {
    const before = (await dailyStats(t.db, { days: 1 }))[0]!;
    await sendTip('one more');
    const after = (await dailyStats(t.db, { days: 3 }))[0]!;
    expect(after).toMatchObject({ day: utcDay(), tips: before.tips + 1 });
    expect(after.attachments).toBeGreaterThanOrEqual(1);
    const cli = await runCli(['admin', 'stats', '--data', newsroom.dataDir, '--days', '2']);
    expect(cli.code).toBe(0);
    expect(cli.stdout.trim().split('\n')).toEqual([
      `${utcDay()}: ${after.tips} tips, ${after.followUps} follow-ups, ${after.replies} replies, ${after.attachments} attachments`,
      `${addDays(utcDay(), -1)}: 0 tips, 0 follow-ups, 0 replies, 0 attachments`,
    ]);
    for (const days of ['0', 'x', '1.5']) {
      const bad = await runCli(['admin', 'stats', '--data', newsroom.dataDir, '--days', days]);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim()).toBe('tipline: --days must be a whole number from 1 to 3660');
    }
  });
});

describe('tipline admin maintain', () => {
  it('refuses bad input in one line, with nothing half-done', async () => {
    const notData = await runCli(['admin', 'maintain', '--data', join(newsroom.root, 'nowhere')]);
    expect(notData.code).toBe(1);
    expect(notData.stderr.trim().split('\n')).toHaveLength(1);
    expect(notData.stderr).toMatch(/^tipline: .*is not a tipline data directory/);
    const badDays = await runCli(['admin', 'maintain', '--data', newsroom.dataDir, '--retention-days', 'soon']);
    expect(badDays.code).toBe(2);
    expect(badDays.stderr.trim().split('\n')).toHaveLength(1);
    expect(badDays.stderr).not.toMatch(/at .*\.ts/);
  });

  it('upgrades a data directory whose attachments are files in blobs/: moved into rows, files gone, every tip and file readable', async () => {
    // An older version's layout: the attachment as a file named by its id, no rows.
    const plaintext = randomBytes(40_000);
    const old = await sendUpload(plaintext);
    const tipId = await sendTip('the tip that carries the old file', [old.id]);
    await t.db.deleteFrom('blob_chunks').where('content', 'in', t.db.selectFrom('blobs').select('content').where('id', '=', old.id)).execute();
    await t.db.deleteFrom('blobs').where('id', '=', old.id).execute();
    const blobDir = join(newsroom.dataDir, 'blobs');
    await mkdir(blobDir, { recursive: true });
    await writeFile(join(blobDir, old.id), old.ciphertext);
    expect(await t.db.selectFrom('blobs').select('id').where('id', '=', old.id).executeTakeFirst()).toBeUndefined();

    const cli = await runCli(['admin', 'maintain', '--data', newsroom.dataDir]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^Maintenance done: /);
    expect(await readdir(blobDir)).toEqual([]);

    const blob = await t.app.request(`/api/v1/journalist/blobs/${old.id}`, auth());
    expect(blob.status).toBe(200);
    expect(Buffer.from(await decryptBytes(new Uint8Array(await blob.arrayBuffer()))).equals(Buffer.from(plaintext))).toBe(true);
    const tip = await t.app.request(`/api/v1/journalist/tips/${tipId}`, auth());
    expect(decodeTipDocument(await decryptBytes(new Uint8Array(await tip.arrayBuffer()))).message).toBe('the tip that carries the old file');
  });
});
