/**
 * The no-JavaScript form token, played by a flooder who has no JavaScript
 * either: posting the plain forms without a token, with one made up or
 * edited (to skip the wait), with one sent too soon, too late, or twice, or
 * with one for the other form. Each is refused with the form shown again and
 * the text still in it, and none of them uses the no-JavaScript budget. A
 * source who loads the form and takes a few seconds to write gets through.
 * Runs on SQLite and on PostgreSQL (vitest.config.ts, POSTGRES_SUITES).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, randomBytes } from '../crypto/bytes.ts';
import { addDays, utcDay } from '../crypto/day.ts';
import { checkFormToken, FORM_TOKEN_CHARS, issueFormToken } from '../crypto/form-token.ts';
import { translator } from '../i18n/index.ts';
import { FormTokens, sweepSpentFormTokens } from '../server/abuse/form-tokens.ts';
import { serveSettings, type Limits } from '../server/config.ts';
import { DailyCounts } from '../server/http/daily-counts.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { fetchFormToken, formTokenIn } from './helpers/no-js-form.ts';
import { runCli } from './helpers/server-process.ts';

let newsroom: TestNewsroom;
const en = translator('en');
const STALE = en('submit.error.formStale');
const TOO_SOON = en('submit.error.formTooSoon', { seconds: '3' });

beforeAll(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Ana');
});
afterAll(async () => {
  await newsroom?.cleanup();
});

/** A test app with a clock the test moves, the real 3-second wait, and a no-JavaScript budget of `budget` first tips and follow-ups. */
async function rig(budget = 1, limits: Partial<Limits> = {}) {
  // A whole second plus 200 ms: the token's issue second is the next whole one.
  const clock = { now: Date.parse(`${utcDay()}T00:00:00.200Z`) + 86_400_000 };
  const counts = new DailyCounts(() => new Date(clock.now));
  const t = await openTestApp(newsroom, {
    clock: () => new Date(clock.now),
    counts,
    limits: { noJsBurst: budget, noJsPerMinute: 0, noJsFollowupBurst: budget, noJsFollowupsPerMinute: 0, noJsFormMinSeconds: 3, ...limits },
  });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    t.app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
  const token = (path = '/submit', headers: Record<string, string> = {}) => fetchFormToken((p, init) => t.app.request(p, init), path, headers);
  const tips = async () => (await t.db.selectFrom('tips').select('id').execute()).length;
  return { t, clock, counts, post, token, tips };
}

/** The refusal page: the form again, its error, the text back in the box, and a fresh token. */
async function expectFormAgain(res: Response, status: number, error: string, text: string, sent?: string) {
  expect(res.status).toBe(status);
  const page = await res.text();
  // As the page writes it (HTML-escaped: "can't" is "can&#39;t").
  expect(page).toContain(error.replace(/&/g, '&amp;').replace(/'/g, '&#39;').replace(/"/g, '&quot;'));
  expect(page).toContain(`>${text}</textarea>`);
  const fresh = formTokenIn(page);
  expect(fresh).toMatch(new RegExp(`^[A-Za-z0-9_-]{${FORM_TOKEN_CHARS}}$`));
  if (sent) expect(fresh).not.toBe(sent);
}

/** Rewrites the issue second inside a token, leaving its HMAC: what a script would do to skip the wait. */
function backdate(token: string, seconds: number): string {
  const bytes = base64url.decode(token);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  view.setUint32(18, view.getUint32(18) - seconds);
  return base64url.encode(bytes);
}

describe('a post without a good token', () => {
  it('is refused, shows the form again with the text, and uses none of the budget: missing, made up, edited, another server\'s, the other form\'s', async () => {
    const { t, clock, counts, post, token, tips } = await rig(1);
    try {
      const before = await tips();
      const real = await token();
      clock.now += 5000;
      const attempts: [string, Record<string, string>, number][] = [
        ['missing', { message: 'no token' }, 400],
        ['empty', { message: 'empty token', form_token: '' }, 400],
        ['garbage', { message: 'garbage', form_token: 'x'.repeat(FORM_TOKEN_CHARS) }, 403],
        ['random bytes', { message: 'random', form_token: base64url.encode(randomBytes(38)) }, 403],
        ['too long', { message: 'long', form_token: `${real}AAAA` }, 403],
        ['backdated to skip the wait', { message: 'backdated', form_token: backdate(real, 3600) }, 403],
        ['one HMAC bit flipped', { message: 'flipped', form_token: `${real.slice(0, -2)}${real.at(-2) === 'A' ? 'B' : 'A'}${real.at(-1)}` }, 403],
        ['made with another secret', { message: 'other server', form_token: issueFormToken(randomBytes(32), { purpose: 'tip', now: new Date(clock.now - 5000) }) }, 403],
      ];
      for (const [what, fields, status] of attempts) {
        const res = await post('/submit', fields);
        expect({ what, status: res.status }).toEqual({ what, status });
        await expectFormAgain(res, status, STALE, fields.message!);
      }
      // The other form's token: a follow-up's token on the tip form.
      const login = await t.app.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `codename=${encodeURIComponent(await firstTipCodename())}` });
      const cookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
      const followupToken = await token('/inbox/reply', { cookie });
      clock.now += 5000;
      await expectFormAgain(await post('/submit', { message: 'wrong form', form_token: followupToken }), 403, STALE, 'wrong form');
      // …and a tip's token on the reply form.
      const tipToken = await token();
      clock.now += 5000;
      await expectFormAgain(await post('/inbox/reply', { message: 'wrong form too', form_token: tipToken }, { cookie }), 403, STALE, 'wrong form too');
      // And the reply form refuses a missing one the same way, its text back in its box.
      await expectFormAgain(await post('/inbox/reply', { message: 'no token here' }, { cookie }), 400, STALE, 'no token here');

      // Nothing was stored, nothing counted as refused by the budget, and it is still whole: the real token goes through.
      expect(await tips()).toBe(before + 1); // the one tip firstTipCodename() sent
      expect(counts.today()).not.toContain('budget ran dry');
      expect((await post('/submit', { message: 'a real source', form_token: real })).status).toBe(201);
      expect((await post('/inbox/reply', { message: 'a real answer', form_token: await tokenAfterWait('/inbox/reply', { cookie }) }, { cookie })).status).toBe(201);
      // The budget (1 each) is now used, by real posts only.
      expect((await post('/submit', { message: 'one more', form_token: await tokenAfterWait() })).status).toBe(429);
      expect(counts.today()).toMatch(/refused: 1 first tips$/);

      async function tokenAfterWait(path = '/submit', headers: Record<string, string> = {}) {
        const got = await token(path, headers);
        clock.now += 5000;
        return got;
      }
      async function firstTipCodename() {
        // A separate app with its own budget, so this set-up tip leaves the one under test whole.
        const other = await openTestApp(newsroom);
        try {
          const res = await other.app.request('/submit', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `message=setup&form_token=${await fetchFormToken((p, init) => other.app.request(p, init), '/submit')}` });
          expect(res.status).toBe(201);
          return /<p id="codename"[^>]*>([^<]+)<\/p>/.exec(await res.text())![1]!.trim();
        } finally {
          await other.close();
        }
      }
    } finally {
      await t.close();
    }
  });

  it('is refused too soon (429, Retry-After) and too late (410), never before 3 s have really passed, and uses none of the budget', async () => {
    const { t, clock, counts, post, token, tips } = await rig(1);
    try {
      const before = await tips();
      const early = await token();
      const loaded = clock.now;
      // A script that posts at once, or a second before the time lock ends.
      for (const after of [0, 1000, 2999]) {
        clock.now = loaded + after;
        const res = await post('/submit', { message: `early ${after}`, form_token: early });
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        await expectFormAgain(res, 429, TOO_SOON, `early ${after}`, early);
      }
      // The issue second is rounded up: loaded at .200, so accepted from 3.8 s on, not before.
      clock.now = loaded + 3799;
      expect((await post('/submit', { message: 'still early', form_token: early })).status).toBe(429);
      const late = await token();
      const lateLoaded = clock.now;
      clock.now = lateLoaded + 2 * 3600_000 + 1000;
      await expectFormAgain(await post('/submit', { message: 'after lunch', form_token: late }, { 'accept-language': 'fr' }), 410, translator('fr')('submit.error.formStale'), 'after lunch', late);
      expect(await tips()).toBe(before);
      expect(counts.today()).not.toContain('budget ran dry');
      // The early token, once its time has come, is still good: a refusal spends nothing.
      clock.now = loaded + 3800;
      expect((await post('/submit', { message: 'now', form_token: early })).status).toBe(201);
    } finally {
      await t.close();
    }
  });

  it('is refused when sent twice (409), text kept; a double click stores one tip', async () => {
    // A budget of 2: the two posts of a double click may both pass the spent check before either commits.
    const { clock, post, token, tips, t } = await rig(2);
    try {
      const before = await tips();
      const once = await token();
      clock.now += 10_000;
      const [a, b] = await Promise.all([post('/submit', { message: 'double click', form_token: once }), post('/submit', { message: 'double click', form_token: once })]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      await expectFormAgain([a, b].find((r) => r.status === 409)!, 409, STALE, 'double click', once);
      expect(await tips()).toBe(before + 1);
      // Replayed later: the same, and still nothing stored.
      await expectFormAgain(await post('/submit', { message: 'replayed', form_token: once }), 409, STALE, 'replayed', once);
      expect(await tips()).toBe(before + 1);
    } finally {
      await t.close();
    }
  });

  it('a good token that meets a dry budget is not spent: the same form can be sent again later', async () => {
    const { clock, post, token, t } = await rig(0);
    try {
      const spent = async () => (await t.db.selectFrom('spent_form_tokens').select('id').execute()).length;
      const before = await spent();
      const kept = await token();
      clock.now += 10_000;
      expect((await post('/submit', { message: 'busy now', form_token: kept })).status).toBe(429);
      expect((await post('/submit', { message: 'busy now', form_token: kept })).status).toBe(429);
      expect(await spent()).toBe(before);
    } finally {
      await t.close();
    }
  });
});

describe('a source without JavaScript', () => {
  it('loads the form, writes for a few seconds and sends it; the follow-up form the same way', async () => {
    const { t, clock, post } = await rig(5);
    try {
      const page = await (await t.app.request('/submit')).text();
      const sent = formTokenIn(page)!;
      expect(page).toMatch(/<form id="tip-form"[^>]*>\s*<input type="hidden" name="form_token" value="[A-Za-z0-9_-]{51}">/);
      clock.now += 20_000;
      const res = await post('/submit', { message: 'the tip', form_token: sent });
      expect(res.status).toBe(201);
      const codename = /<p id="codename"[^>]*>([^<]+)<\/p>/.exec(await res.text())![1]!.trim();
      // After a no-JavaScript login, the conversation page's reply form carries a token of its own.
      const login = await t.app.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `codename=${encodeURIComponent(codename)}` });
      const cookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
      const replyToken = formTokenIn(await login.text())!;
      expect(replyToken).toBeTruthy();
      clock.now += 30_000;
      const answered = await post('/inbox/reply', { message: 'more', form_token: replyToken }, { cookie });
      expect(answered.status).toBe(201);
      // And the page that says "sent" has a fresh one for the next answer.
      const next = formTokenIn(await answered.text())!;
      clock.now += 30_000;
      expect((await post('/inbox/reply', { message: 'and more', form_token: next }, { cookie })).status).toBe(201);
      // The page script's inbox (on /login, shown only by JavaScript) posts through the API: its form has no token.
      expect(formTokenIn(await (await t.app.request('/login')).text())).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('can use a token issued just before its secret rotates, for its whole life', async () => {
    const { clock, post, token, t } = await rig(5);
    try {
      const start = clock.now;
      const current = async () => Buffer.from((await t.db.selectFrom('server_secrets').select('value').where('name', '=', 'form-key-current').executeTakeFirstOrThrow()).value).toString('hex');
      const first = await current();
      // Issued a minute before this instance has used its secret for a period (two hours, a token's life)…
      clock.now = start + 2 * 3600_000 - 60_000;
      const old = await token();
      // …which then rotates: the next form page is signed with a new secret.
      clock.now = start + 2 * 3600_000 + 60_000;
      await token();
      expect(await current()).not.toBe(first);
      // In its last second the token is still accepted (its secret is the previous one now).
      clock.now = start + 2 * 3600_000 - 60_000 + 2 * 3600_000 - 1000;
      expect((await post('/submit', { message: 'long tip', form_token: old })).status).toBe(201);
    } finally {
      await t.close();
    }
  });
});

describe('spent tokens', () => {
  it('are kept by day only, through the day after, and swept after that', async () => {
    const { clock, post, token, t } = await rig(5);
    try {
      await t.db.deleteFrom('spent_form_tokens').execute();
      const day = utcDay(new Date(clock.now));
      const a = await token();
      clock.now += 10_000;
      expect((await post('/submit', { message: 'spent', form_token: a })).status).toBe(201);
      const rows = await t.db.selectFrom('spent_form_tokens').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(Object.keys(rows[0]!).sort()).toEqual(['day', 'id']);
      expect(rows[0]!.day).toBe(day);
      expect(rows[0]!.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(await sweepSpentFormTokens(t.db, addDays(day, 1))).toBe(0); // still guards the next day
      expect(await sweepSpentFormTokens(t.db, addDays(day, 2))).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('the cost', () => {
  it('a token check and a refused post, measured', async () => {
    const secret = randomBytes(32);
    const now = new Date();
    const token = issueFormToken(secret, { purpose: 'tip', now: new Date(now.getTime() - 10_000) });
    const live = [randomBytes(32), secret, randomBytes(32)];
    let started = performance.now();
    const N = 2000;
    for (let i = 0; i < N; i++) checkFormToken(live, token, { purpose: 'tip', now, minSeconds: 3, maxSeconds: 7200 });
    const checkMs = (performance.now() - started) / N;

    const ACCEPTED = 20;
    const { post, token: fetchToken, t, clock } = await rig(ACCEPTED);
    try {
      const forged = issueFormToken(randomBytes(32), { purpose: 'tip', now: new Date(clock.now) });
      const M = 200;
      // Warm up (the first requests compile the routes), then measure.
      for (let i = 0; i < 20; i++) await post('/submit', { message: 'warm', form_token: forged });
      started = performance.now();
      for (let i = 0; i < M; i++) expect((await post('/submit', { message: 'flood', form_token: forged })).status).toBe(403);
      const refusedMs = (performance.now() - started) / M;
      started = performance.now();
      const tokens: string[] = [];
      for (let i = 0; i < M; i++) tokens.push(await fetchToken());
      const pageMs = (performance.now() - started) / M;
      // A replay costs one more primary-key read than a forgery.
      clock.now += 10_000;
      expect((await post('/submit', { message: 'real', form_token: tokens[0]! })).status).toBe(201);
      started = performance.now();
      for (let i = 0; i < M; i++) expect((await post('/submit', { message: 'replay', form_token: tokens[0]! })).status).toBe(409);
      const replayMs = (performance.now() - started) / M;
      // What the server spends on a post it accepts: encrypting and storing it.
      started = performance.now();
      for (let i = 1; i < ACCEPTED; i++) expect((await post('/submit', { message: 'accepted', form_token: tokens[i]! })).status).toBe(201);
      const acceptedMs = (performance.now() - started) / (ACCEPTED - 1);
      console.log(
        `form token: check ${(checkMs * 1000).toFixed(1)} µs (3 live secrets); refused post: forged ${refusedMs.toFixed(2)} ms, replayed ${replayMs.toFixed(2)} ms (each shows the form again); form page with a fresh token ${pageMs.toFixed(2)} ms; accepted post ${acceptedMs.toFixed(2)} ms`,
      );
      // Loose bounds, for a loaded 2-core machine: a check is HMACs, a refusal renders a page.
      expect(checkMs).toBeLessThan(1);
      expect(refusedMs).toBeLessThan(50);
    } finally {
      await t.close();
    }
  });
});

describe('the settings', () => {
  it('take the wait from --no-js-form-wait or TIPLINE_NO_JS_FORM_WAIT, refuse nonsense in one line, and never let a token live more than a day', async () => {
    expect(serveSettings({ 'no-js-form-wait': '10' }, {}).limits).toEqual({ noJsFormMinSeconds: 10 });
    expect(serveSettings({}, { TIPLINE_NO_JS_FORM_WAIT: '0' }).limits).toEqual({ noJsFormMinSeconds: 0 });
    expect(serveSettings({}, {}).limits).toEqual({});
    for (const bad of ['601', '-1', '2.5', 'soon']) expect(() => serveSettings({ 'no-js-form-wait': bad }, {})).toThrow(/^--no-js-form-wait must be a whole number from 0 to 600/);
    const cli = await runCli(['serve', '--data', newsroom.dataDir, '--no-js-form-wait', 'soon']);
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim()).toBe('tipline: --no-js-form-wait must be a whole number from 0 to 600, got "soon"');
    const { t } = await rig(1);
    try {
      // A spent token is remembered through the day after it was spent: a longer life would let a replay outlive its row.
      await expect(FormTokens.open(t.db, { minSeconds: 3, maxSeconds: 86_401 })).rejects.toThrow(RangeError);
      await expect(FormTokens.open(t.db, { minSeconds: 10, maxSeconds: 10 })).rejects.toThrow(RangeError);
    } finally {
      await t.close();
    }
  });
});
