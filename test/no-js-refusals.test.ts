/**
 * The operator's signal that a no-JavaScript budget ran dry, played out: a
 * flooder (or a busy day) empties the budgets through the real plain forms of
 * a running `tipline serve`; the refusals reach the database per UTC day and
 * budget, batched (nothing is written per refused post), and `tipline admin
 * doctor` then warns for each budget, naming the days and what to do. Runs on
 * SQLite and on PostgreSQL (vitest.config.ts, POSTGRES_SUITES).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, utcDay } from '../crypto/day.ts';
import { runDoctor, type Finding } from '../server/admin/doctor.ts';
import { KEEP_DAYS, NoJsRefusals } from '../server/abuse/no-js-refusals.ts';
import { startServer } from '../server/cli/serve.ts';
import { readDataDir } from '../server/data-dir.ts';
import { openDatabase, type TiplineDb } from '../server/db/open-database.ts';
import { serveSettings } from '../server/config.ts';
import { DailyCounts } from '../server/http/daily-counts.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';
import { runCli } from './helpers/server-process.ts';

let newsroom: TestNewsroom;
let db: TiplineDb;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Ana');
  db = await openDatabase((await readDataDir(newsroom.dataDir, newsroom)).database);
});
afterAll(async () => {
  await db?.destroy();
  await newsroom?.cleanup();
});

const rows = async () => (await db.selectFrom('no_js_refusals').selectAll().orderBy('day').orderBy('kind').execute()).map((r) => ({ ...r, refused: Number(r.refused) }));
const budgetFindings = (findings: Finding[]) => findings.filter((f) => f.topic === 'no-JavaScript budget');
const doctor = (today?: string) => runDoctor({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, host: '127.0.0.1', retentionDays: 90, ...(today ? { today } : {}) });

describe('a no-JavaScript budget that runs dry', () => {
  it('is written per day and budget when serve stops (not per refused post), and doctor warns for each budget with the day and the fix', async () => {
    await db.deleteFrom('no_js_refusals').execute();
    const today = utcDay();
    const server = await startServer({
      dataDir: newsroom.dataDir,
      databaseUrl: newsroom.databaseUrl,
      port: 0,
      host: '127.0.0.1',
      log: () => {},
      powDifficulty: 0,
      limits: { noJsBurst: 2, noJsPerMinute: 0, noJsFollowupBurst: 1, noJsFollowupsPerMinute: 0, noJsFormMinSeconds: 0 },
    });
    let flood: number[];
    let followups: number[];
    try {
      const post = noJsPoster((p, init) => fetch(`${server.url}${p}`, { ...init, redirect: 'manual' }));
      // A flood through the plain tip form: 2 accepted, then "busy".
      flood = [];
      let codename = '';
      for (let i = 0; i < 7; i++) {
        const res = await post('/submit', `message=flood%20${i}`);
        flood.push(res.status);
        if (res.status === 201) codename = /<p id="codename"[^>]*>([^<]+)<\/p>/.exec(await res.text())![1]!.trim();
      }
      // A source in a conversation answers twice: the follow-up budget (1) runs dry too.
      const login = await fetch(`${server.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `codename=${encodeURIComponent(codename)}` });
      const cookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
      followups = [];
      for (let i = 0; i < 3; i++) followups.push((await post('/inbox/reply', `message=more%20${i}`, { cookie })).status);
      // While it runs, nothing was written for the refusals: no write per refused post.
      expect(await rows()).toEqual([]);
    } finally {
      await server.close();
    }
    expect(flood).toEqual([201, 201, 429, 429, 429, 429, 429]);
    expect(followups).toEqual([201, 429, 429]);
    // Shutdown flushed them: one row per budget, the day only.
    expect(await rows()).toEqual([
      { day: today, kind: 'followup', refused: 2 },
      { day: today, kind: 'tip', refused: 5 },
    ]);

    const found = budgetFindings(await doctor());
    expect(found.map((f) => f.level)).toEqual(['warning', 'warning']);
    const [tips, follow] = found as [Finding, Finding];
    expect(tips.message).toContain(`first tips without JavaScript ran dry on ${today} (5 post(s) refused in all)`);
    expect(follow.message).toContain(`follow-ups without JavaScript ran dry on ${today} (2 post(s) refused in all)`);
    for (const f of found) {
      // What to do: raise the budget (the flags that exist), or turn on Tor's onion-service proof of work.
      expect(f.message).toMatch(/Fix: .*raise the budget \(tipline serve --no-js-/);
      expect(f.message).toContain('docs/admin.md');
      expect(f.message).toContain('HiddenServicePoWDefensesEnabled 1');
      // Days only, never a time of day.
      expect(f.message).not.toMatch(/\d{1,2}:\d{2}/);
    }
    expect(tips.message).toContain('--no-js-burst and --no-js-per-minute');
    expect(follow.message).toContain('--no-js-followup-burst and --no-js-followups-per-minute');
    // And as the admin reads it. (The test's files are not all 0600, so doctor may also report errors: only its lines are checked.)
    const cli = await runCli(['admin', 'doctor', '--data', newsroom.dataDir]);
    expect(cli.stdout).toContain(`WARNING  no-JavaScript budget: the budget for first tips without JavaScript ran dry on ${today} (5 post(s) refused in all)`);
    expect(cli.stdout).toContain(`WARNING  no-JavaScript budget: the budget for follow-ups without JavaScript ran dry on ${today} (2 post(s) refused in all)`);
  });

  it('doctor names the dry days of the last 7 only, oldest first, and is quiet (ok) when no budget ran dry', async () => {
    await db.deleteFrom('no_js_refusals').execute();
    const today = '2026-03-20';
    await db
      .insertInto('no_js_refusals')
      .values([
        { day: '2026-03-20', kind: 'tip', refused: 3 },
        { day: '2026-03-14', kind: 'tip', refused: 40 }, // the 7th day back: still in
        { day: '2026-03-13', kind: 'tip', refused: 900 }, // the 8th: not any more
        { day: '2026-03-21', kind: 'followup', refused: 1 }, // after `today`: not counted
      ])
      .execute();
    const found = budgetFindings(await doctor(today));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('ran dry on 2026-03-14, 2026-03-20 (43 post(s) refused in all)');
    await db.deleteFrom('no_js_refusals').execute();
    expect(budgetFindings(await doctor(today))).toEqual([{ level: 'ok', topic: 'no-JavaScript budget', message: 'neither budget ran dry in the last 7 days' }]);
  });
});

describe('the refusal record', () => {
  it('adds a flood of refusals in one statement per day and budget, keeps each day apart across midnight, and deletes days older than 14', async () => {
    await db.deleteFrom('no_js_refusals').execute();
    // Tomorrow just before midnight UTC (within the test manifest's life), then just after.
    const day1 = addDays(utcDay(), 1);
    const day2 = addDays(day1, 1);
    let now = new Date(`${day1}T23:59:00Z`);
    const old = addDays(day2, -KEEP_DAYS); // 15 days before day2: to be deleted
    const kept = addDays(day2, 1 - KEEP_DAYS); // the oldest day kept
    await db.insertInto('no_js_refusals').values([{ day: old, kind: 'tip', refused: 7 }, { day: kept, kind: 'tip', refused: 8 }]).execute();
    const refusals = new NoJsRefusals(db, () => now);
    const t = await openTestApp(newsroom, { counts: new DailyCounts(() => now), clock: () => now, refusals, limits: { noJsBurst: 0, noJsPerMinute: 0, noJsFollowupBurst: 0, noJsFollowupsPerMinute: 0 } });
    try {
      const post = noJsPoster((p, init) => t.app.request(p, init));
      for (let i = 0; i < 50; i++) expect((await post('/submit', 'message=x')).status).toBe(429);
      // 50 refused posts, no write yet.
      expect((await rows()).filter((r) => r.day === day1)).toEqual([]);
      now = new Date(`${day2}T00:00:30Z`);
      for (let i = 0; i < 4; i++) expect((await post('/submit', 'message=x')).status).toBe(429);
      await refusals.flush();
      expect(await rows()).toEqual([
        { day: kept, kind: 'tip', refused: 8 },
        { day: day1, kind: 'tip', refused: 50 },
        { day: day2, kind: 'tip', refused: 4 },
      ]);
      // A later flush adds to the day's row; a quiet one writes nothing.
      for (let i = 0; i < 3; i++) expect((await post('/submit', 'message=x')).status).toBe(429);
      await refusals.flush();
      await refusals.flush();
      expect((await rows()).find((r) => r.day === day2)).toEqual({ day: day2, kind: 'tip', refused: 7 });
    } finally {
      await t.close();
    }
  });

  it('keeps the counts when a write fails, and writes them with the next flush', async () => {
    await db.deleteFrom('no_js_refusals').execute();
    const refusals = new NoJsRefusals(db, () => new Date('2026-06-01T10:00:00Z'));
    refusals.add('followup');
    refusals.add('followup');
    // The table is away for a moment (a database that refuses the write).
    await sql`ALTER TABLE no_js_refusals RENAME TO no_js_refusals_away`.execute(db);
    try {
      await expect(refusals.flush()).rejects.toThrow();
    } finally {
      await sql`ALTER TABLE no_js_refusals_away RENAME TO no_js_refusals`.execute(db);
    }
    refusals.add('followup');
    await refusals.flush();
    expect(await rows()).toEqual([{ day: '2026-06-01', kind: 'followup', refused: 3 }]);
  });
});

describe('the budgets\' settings', () => {
  it('come from the serve flags or the environment, the flag first, and refuse nonsense', () => {
    expect(serveSettings({ 'no-js-burst': '60', 'no-js-per-minute': '5', 'no-js-followup-burst': '40', 'no-js-followups-per-minute': '3' }, { TIPLINE_NO_JS_BURST: '1' }).limits).toEqual({
      noJsBurst: 60,
      noJsPerMinute: 5,
      noJsFollowupBurst: 40,
      noJsFollowupsPerMinute: 3,
    });
    expect(serveSettings({}, { TIPLINE_NO_JS_BURST: '100', TIPLINE_NO_JS_FOLLOWUPS_PER_MINUTE: '0' }).limits).toEqual({ noJsBurst: 100, noJsFollowupsPerMinute: 0 });
    expect(() => serveSettings({ 'no-js-per-minute': 'lots' }, {})).toThrow('--no-js-per-minute must be a whole number from 0 to 100000, got "lots"');
  });
});
