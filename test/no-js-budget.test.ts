/**
 * The no-JavaScript budget, played by a flooder: first tips and follow-ups
 * draw on separate global budgets, so flooding the plain tip form can't make
 * a source already in a conversation read "busy" when they answer a
 * journalist (and the other way round), and each day the budget ran dry
 * shows on the operator's daily line, with how many posts were refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64 } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { translator } from '../i18n/index.ts';
import { DailyCounts } from '../server/http/daily-counts.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
const form = (body: string, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });

beforeAll(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Ana');
});
afterAll(async () => {
  await newsroom?.cleanup();
});

describe('separate no-JavaScript budgets for first tips and follow-ups', () => {
  it('a flood of first tips leaves follow-ups working, a flood of follow-ups leaves first tips working, and the daily line says when each ran dry', async () => {
    let now = Date.now();
    const counts = new DailyCounts(() => new Date(now));
    const t = await openTestApp(newsroom, { counts, limits: { noJsBurst: 3, noJsPerMinute: 0, noJsFollowupBurst: 2, noJsFollowupsPerMinute: 0 } });
    const post = noJsPoster((p, init) => t.app.request(p, init));
    try {
      // A source with a conversation (opened from the browser, with its proof of work off in tests).
      const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
      const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
      const codename = generateCodename('en');
      const k = deriveCodenameKeys(parseCodename(codename).entropy);
      const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'first', fields: {} })), keys);
      expect((await t.app.request('/api/v1/tips', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(k.lookupSecret) }) })).status).toBe(201);
      const login = await t.app.request('/login', form(`codename=${encodeURIComponent(codename)}`));
      const cookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];

      // The flooder empties the first-tip budget through the plain form.
      const flood = [];
      for (let i = 0; i < 6; i++) flood.push((await post('/submit', `message=flood${i}`)).status);
      expect(flood).toEqual([201, 201, 201, 429, 429, 429]);
      const busy = await post('/submit?lang=fr', 'message=a%20real%20source');
      expect(busy.status).toBe(429);
      expect(await busy.text()).toContain(translator('fr')('busy.heading'));
      // The source in a conversation still answers without JavaScript.
      expect((await post('/inbox/reply', 'message=still%20here', { cookie })).status).toBe(201);
      expect((await post('/inbox/reply', 'message=and%20again', { cookie })).status).toBe(201);
      // Now the follow-up budget is dry too: only follow-ups are refused by it.
      expect((await post('/inbox/reply', 'message=third', { cookie })).status).toBe(429);

      expect(counts.today()).toMatch(/; no-JavaScript budget ran dry, refused: 4 first tips, 1 follow-ups$/);
      // The line for the day is printed once, after midnight UTC, and the new day starts clean.
      now += 86_400_000;
      expect(counts.takeEndedDay()).toMatch(/: 4 tips, 2 follow-ups, 0 uploads, 0 errors; no-JavaScript budget ran dry, refused: 4 first tips, 1 follow-ups$/);
      expect(counts.today()).toMatch(/ 0 errors$/);
    } finally {
      await t.close();
    }
  });

  it('and the other way round: follow-ups running dry leave first tips alone', async () => {
    const t = await openTestApp(newsroom, { limits: { noJsBurst: 5, noJsPerMinute: 0, noJsFollowupBurst: 0, noJsFollowupsPerMinute: 0 } });
    const post = noJsPoster((p, init) => t.app.request(p, init));
    try {
      const first = await post('/submit', 'message=hello');
      expect(first.status).toBe(201);
      const codename = /<p[^>]*id="codename"[^>]*>([^<]+)</.exec(await first.text())?.[1]?.trim();
      expect(codename).toBeTruthy();
      const login = await t.app.request('/login', form(`codename=${encodeURIComponent(codename!)}`));
      const cookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
      expect((await post('/inbox/reply', 'message=x', { cookie })).status).toBe(429);
      expect((await post('/submit', 'message=another')).status).toBe(201);
    } finally {
      await t.close();
    }
  });
});
