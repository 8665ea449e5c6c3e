/**
 * `journalist fetch` warns about live conversations near the retention limit,
 * not only tips: a conversation whose first tip, or only a reply, is within 7
 * days of deletion is named (pseudonym and thread id, for `admin hold`), while
 * a fresh one is not; nothing is said when the server keeps everything.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomId } from '../crypto/bytes.ts';
import { pseudonymFor } from '../client/journalist/pseudonym.ts';
import { RetentionWarning } from '../client/journalist/retention-warning.ts';
import { startServer } from '../server/cli/serve.ts';
import { ReplyStore } from '../server/store/reply-store.ts';
import { TipStore } from '../server/store/tip-store.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli } from './helpers/server-process.ts';

let newsroom: TestNewsroom;
let ana: TestJournalist;
let tokenFile: string;
const thread = () => createHash('sha256').update(randomId()).digest('hex');
const agingTip = thread();
const agingReply = thread();
const fresh = thread();
const daysAgo = (n: number) => () => new Date(Date.now() - n * 86_400_000);

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  tokenFile = join(newsroom.root, 'token');
  await writeFile(tokenFile, `${ana.token}\n`, { mode: 0o600 });
  const t = await openTestApp(newsroom);
  try {
    const tip = (age: number, threadId: string, kind: 'tip' | 'followup') =>
      new TipStore(t.db, daysAgo(age)).add({ ciphertext: randomBytes(200), via: 'browser', manifestVersion: 1, threadId, kind });
    // Under a 30-day retention: 25 days old is deleted within 7 days; 10 is not.
    await tip(25, agingTip, 'tip');
    await tip(1, agingTip, 'followup');
    await tip(10, agingReply, 'tip');
    await new ReplyStore(t.db, daysAgo(24)).add(agingReply, { box: randomBytes(32), copy: randomBytes(32) });
    await tip(2, fresh, 'tip');
  } finally {
    await t.close();
  }
}, 60_000);
afterAll(async () => newsroom?.cleanup());

describe('fetch warns about conversations near the retention limit', () => {
  it('names each aging conversation by pseudonym and thread id, tips and replies alike, and not fresh ones', async () => {
    const server = await startServer({ dataDir: newsroom.dataDir, port: 0, host: '127.0.0.1', log: () => {}, retentionDays: 30, powDifficulty: 0 });
    try {
      const r = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', await mkdtemp(join(tmpdir(), 'tipline-inbox-'))]);
      expect(r, r.stderr).toMatchObject({ code: 0 });
      const said = r.stdout + r.stderr;
      expect(said).toContain('warning: 1 tip(s) will be deleted from the server within 7 days (it keeps messages 30 days)');
      expect(said).toContain('warning: 2 conversation(s) have messages the server deletes within 7 days');
      expect(said).toContain('tipline admin hold --thread ID');
      const listed = said.split('\n').filter((l) => /^  \S+  thread /.test(l));
      expect(listed).toEqual([
        expect.stringMatching(new RegExp(`^  ${pseudonymFor(agingTip)}  thread ${agingTip}  \\(oldest message \\d{4}-\\d{2}-\\d{2}\\)$`)),
        expect.stringMatching(new RegExp(`^  ${pseudonymFor(agingReply)}  thread ${agingReply}  \\(oldest message \\d{4}-\\d{2}-\\d{2}\\)$`)),
      ]);
      expect(said).not.toContain(fresh);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('leaves out a conversation an admin put on hold, and its tips; the server marks only those tips onHold', async () => {
    const hold = await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', agingTip]);
    expect(hold, hold.stderr).toMatchObject({ code: 0 });
    const server = await startServer({ dataDir: newsroom.dataDir, port: 0, host: '127.0.0.1', log: () => {}, retentionDays: 30, powDifficulty: 0 });
    try {
      const listing = (await (await fetch(`${server.url}/api/v1/journalist/tips?limit=50`, { headers: { authorization: `Bearer ${ana.token}` } })).json()) as { tips: { threadId: string; onHold?: boolean }[] };
      expect(listing.tips.filter((t) => t.onHold === true).map((t) => t.threadId)).toEqual([agingTip, agingTip]);
      expect(listing.tips.filter((t) => t.threadId !== agingTip).every((t) => !('onHold' in t))).toBe(true);
      const r = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', await mkdtemp(join(tmpdir(), 'tipline-inbox-'))]);
      expect(r, r.stderr).toMatchObject({ code: 0 });
      const said = r.stdout + r.stderr;
      expect(said).not.toContain('tip(s) will be deleted');
      expect(said).toContain('warning: 1 conversation(s) have messages the server deletes within 7 days');
      expect(said).toContain(`thread ${agingReply}`);
      expect(said).not.toContain(agingTip);
    } finally {
      await server.close();
      await runCli(['admin', 'hold', '--data', newsroom.dataDir, '--thread', agingTip, '--release']);
    }
  }, 60_000);

  it('says nothing when the server keeps everything, and lists the oldest first, at most 20', () => {
    const forever = new RetentionWarning(0, '2026-12-07');
    forever.see({ day: '2020-01-01', threadId: fresh, kind: 'tip' });
    expect(forever.lines()).toEqual([]);
    const w = new RetentionWarning(90, '2026-12-07');
    const ids = Array.from({ length: 25 }, thread);
    ids.forEach((id, i) => w.see({ day: `2026-09-${String(10 - (i % 10)).padStart(2, '0')}`, threadId: id, kind: 'reply' }));
    w.see({ day: '2026-11-30', threadId: ids[0]!, kind: 'followup' }); // fresh: not counted
    expect(w.tips).toBe(0);
    const days = w.expiringConversations().map((c) => c.oldestDay);
    expect(days).toEqual([...days].sort());
    const lines = w.lines();
    expect(lines[0]).toContain('25 conversation(s)');
    expect(lines.filter((l) => /^  \S+  thread /.test(l))).toHaveLength(20);
    expect(lines.at(-1)).toBe('  … and 5 more');
  });
});
