/**
 * `tipline admin hold`: a conversation on hold outlives the retention period,
 * tips, follow-ups and replies alike, while every other old conversation is
 * deleted; releasing the hold lets the next run delete it. Each hold and
 * release is in the audit log. A careless or hostile `--thread` (a path, SQL,
 * a short or unknown id, a release of what is not held) is refused with one
 * line, no stack trace, and nothing changed. Runs on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomId } from '../crypto/bytes.ts';
import { readDataDir } from '../server/data-dir.ts';
import { openDatabase, type TiplineDb } from '../server/db/open-database.ts';
import { DEFAULT_RETENTION_DAYS, purgeExpired } from '../server/retention.ts';
import { ReplyStore } from '../server/store/reply-store.ts';
import { TipStore } from '../server/store/tip-store.ts';
import { makeNewsroom, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli } from './helpers/server-process.ts';

let newsroom: TestNewsroom;
let db: TiplineDb;
const threadOf = () => createHash('sha256').update(randomId()).digest('hex');
const held = threadOf();
const notHeld = threadOf();
const daysAgo = (n: number) => () => new Date(Date.now() - n * 86_400_000);

/** A conversation whose tip, follow-up and reply are all `age` days old. */
async function oldConversation(threadId: string, age: number): Promise<void> {
  const tips = new TipStore(db, daysAgo(age));
  await tips.add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId, kind: 'tip' });
  await tips.add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId, kind: 'followup' });
  await new ReplyStore(db, daysAgo(age)).add(threadId, { box: randomBytes(32), copy: randomBytes(32) });
}

const count = async (threadId: string) => ({
  tips: (await db.selectFrom('tips').select('id').where('thread_id', '=', threadId).execute()).length,
  replies: (await db.selectFrom('replies').select('id').where('thread_id', '=', threadId).execute()).length,
  thread: (await db.selectFrom('threads').select('id').where('id', '=', threadId).execute()).length,
});
const audit = async () => (await runCli(['admin', 'audit', '--data', newsroom.dataDir])).stdout.split('\n').filter((l) => /\tthread\./.test(l));

beforeAll(async () => {
  newsroom = await makeNewsroom();
  db = await openDatabase((await readDataDir(newsroom.dataDir, newsroom)).database);
  await oldConversation(held, 100);
  await oldConversation(notHeld, 100);
}, 60_000);

afterAll(async () => {
  await db?.destroy();
  await newsroom?.cleanup();
});

describe('admin init', () => {
  it('says tips are deleted after the real default retention, and how to hold a conversation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tipline-init-'));
    try {
      const r = await runCli(['admin', 'init', '--data', join(dir, 'data'), '--signing-key', join(dir, 'newsroom.key')], { DATABASE_URL: '' });
      expect(r, r.stderr).toMatchObject({ code: 0 });
      expect(DEFAULT_RETENTION_DAYS).toBe(90);
      expect(r.stdout).toContain(`Tips, follow-ups and replies are deleted from the server ${DEFAULT_RETENTION_DAYS} days after they arrive`);
      expect(r.stdout).toContain('tipline admin hold --data');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('admin hold', () => {
  it('refuses a bad --thread with one line, changing nothing', async () => {
    for (const bad of ['../../etc/passwd', `${held.slice(0, 63)}' OR 1=1 --`, held.slice(0, 63), 'z'.repeat(64), '']) {
      const r = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', bad]);
      expect(r.code, bad).not.toBe(0);
      expect(r.stderr).toContain('--thread must be a conversation id');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const unknown = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', threadOf()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no conversation [0-9a-f]{64} on this server/);
    const release = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', notHeld, '--release']);
    expect(release.code).toBe(1);
    expect(release.stderr).toContain('is not on hold');
    const both = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--list', '--thread', held]);
    expect(both.code).toBe(2);
    const none = await runCli(['admin', 'hold', '--data', newsroom.dataDir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--thread ID (or --list) is required');
    for (const r of [unknown, release, both]) expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await db.selectFrom('threads').select('id').where('held_day', 'is not', null).execute()).toEqual([]);
    expect(await audit()).toEqual([]);
    expect((await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--list'])).stdout).toContain('No conversation is on hold.');
  });

  it('keeps a held conversation past retention, lists it and records it once; the others go', async () => {
    // Given in capitals with spaces around, as pasted from a terminal: the same conversation.
    const r = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', ` ${held.toUpperCase()} `]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`Conversation ${held} is on hold`);
    const again = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', held]);
    expect(again.stdout).toContain('already on hold');
    const list = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--list']);
    expect(list.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${held}\\ton hold since \\d{4}-\\d{2}-\\d{2}\\t2 tip\\(s\\) and follow-up\\(s\\), 1 reply\\(ies\\)$`))]);
    expect(await audit()).toEqual([expect.stringMatching(new RegExp(`\\tadmin\\tthread\\.hold\\tthread=${held}$`))]);

    const purged = await purgeExpired(db, { retentionDays: 90 });
    expect(purged).toEqual({ tips: 2, replies: 1, threads: 1 });
    expect(await count(held)).toEqual({ tips: 2, replies: 1, thread: 1 });
    expect(await count(notHeld)).toEqual({ tips: 0, replies: 0, thread: 0 });
    // The daily maintenance goes through the same retention: it keeps it too.
    const maintain = await runCli(['admin', 'maintain', '--data', newsroom.dataDir, '--retention-days', '90']);
    expect(maintain, maintain.stderr).toMatchObject({ code: 0 });
    expect(await count(held)).toEqual({ tips: 2, replies: 1, thread: 1 });
  }, 60_000);

  it('after --release, the next retention run deletes it, and the release is recorded', async () => {
    const r = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', held, '--release']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('Released the hold');
    expect((await audit()).map((l) => l.split('\t')[2])).toEqual(['thread.hold', 'thread.release']);
    expect(await purgeExpired(db, { retentionDays: 90 })).toEqual({ tips: 2, replies: 1, threads: 1 });
    expect(await count(held)).toEqual({ tips: 0, replies: 0, thread: 0 });
  });
});
