/**
 * Byte budgets for the source pages (sizes, not times): a source on a slow Tor
 * circuit must get a usable page fast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measurePageWeights, type PageWeight } from '../scripts/page-weight.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';

let newsroom: TestNewsroom;
let t: TestApp;
let weights: PageWeight[];

beforeAll(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Ana');
  t = await openTestApp(newsroom);
  weights = await measurePageWeights((p) => t.app.request(p));
});
afterAll(async () => {
  await t.close();
  await newsroom.cleanup();
});

describe('page weight', () => {
  it('counts the HTML, the stylesheet and the icon for each page', () => {
    for (const w of weights) {
      expect(w.withoutJs.files).toEqual(expect.arrayContaining([w.path, '/static/style.css', '/static/favicon.svg']));
      expect(w.withoutJs.raw).toBeGreaterThan(1000);
    }
  });

  it('keeps the landing page and the no-JavaScript form under 20 KB as served', () => {
    for (const w of weights) expect(w.withoutJs.raw, w.path).toBeLessThanOrEqual(20_000);
  });

  it('keeps what loads before the source can type under 120 KB gzipped, with crypto loaded lazily', () => {
    const submit = weights.find((w) => w.path === '/submit')!;
    expect(submit.withJs.files.some((f) => f.endsWith('.js'))).toBe(true);
    expect(submit.withJs.gzip).toBeLessThanOrEqual(120_000);
    // openpgp.js must be in a lazy chunk, not in what every page loads up front.
    expect(submit.lazy.files.some((f) => f.includes('send-tip'))).toBe(true);
    expect(submit.withJs.files.some((f) => f.includes('send-tip'))).toBe(false);
  });
});
