/**
 * The journalist API's sign-in throttle, attacked as a flooder would: wrong
 * secrets for one journalist's token id, random token ids by the thousand,
 * and garbage. A valid token must be served at once throughout, another
 * journalist's token id must not be touched, and nothing may lock everyone
 * out (the old global backoff answered 429 to valid tokens after 200 bad
 * tokens a minute).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, randomBytes } from '../crypto/bytes.ts';
import { AuthThrottle, PER_TOKEN_FAILURES } from '../server/abuse/auth-throttle.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';

let newsroom: TestNewsroom;
let t: TestApp;
let ana: TestJournalist;
let bob: TestJournalist;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  bob = await addTestJournalist(newsroom, 'Bob');
  t = await openTestApp(newsroom);
});

afterAll(async () => {
  await t?.close();
  await newsroom?.cleanup();
});

const me = (token: string) => t.app.request('/api/v1/journalist/me', { headers: { authorization: `Bearer ${token}` } });
/** The same token id with a fresh wrong secret (right shape, 43 base64url characters). */
const wrongSecret = (token: string) => `${/^tl_[A-Za-z0-9_-]{22}_/.exec(token)![0]}${base64url.encode(randomBytes(32))}`;
const randomToken = () => `tl_${base64url.encode(randomBytes(16))}_${base64url.encode(randomBytes(32))}`;

describe('the journalist sign-in throttle under a flood', () => {
  it('answers 429 to wrong secrets for a flooded token id, while that token itself and another journalist are served at once', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push((await me(wrongSecret(ana.token))).status);
    expect(statuses.slice(0, PER_TOKEN_FAILURES)).toEqual(Array(PER_TOKEN_FAILURES).fill(401));
    expect(new Set(statuses.slice(PER_TOKEN_FAILURES))).toEqual(new Set([429]));
    const refused = await me(wrongSecret(ana.token));
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: 'too-many-attempts', message: expect.any(String) } });

    // The real token of the flooded id: served, first try, in the middle of the flood.
    const started = performance.now();
    const ok = await me(ana.token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ name: 'Ana' });
    console.log(`valid token during a 300-request flood of its id: 200 in ${(performance.now() - started).toFixed(1)} ms`);
    expect((await me(wrongSecret(ana.token))).status).toBe(429);
    expect((await me(ana.token)).status).toBe(200);

    // Another token id: untouched, its own wrong secrets still get the plain 401.
    expect((await me(bob.token)).status).toBe(200);
    expect((await me(wrongSecret(bob.token))).status).toBe(401);
  });

  it('has no global lock-out: thousands of random token ids and garbage get 401, and every valid token stays served', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 2000; i++) statuses.add((await me(i % 10 === 0 ? `garbage-${i}` : randomToken())).status);
    expect(statuses).toEqual(new Set([401]));
    expect((await me(ana.token)).status).toBe(200);
    expect((await me(bob.token)).status).toBe(200);
    // Random ids are not counted, so they can't push a real id's count out: Ana's id is still over its limit.
    expect((await me(wrongSecret(ana.token))).status).toBe(429);
  });

  it('forgets a token id\'s failures after the minute', () => {
    let now = 0;
    const throttle = new AuthThrottle(() => now, 3);
    expect([1, 2, 3, 4].map(() => throttle.failed('id'))).toEqual([false, false, false, true]);
    now = 61_000;
    expect(throttle.failed('id')).toBe(false);
    expect(throttle.failed('other')).toBe(false);
    expect(() => new AuthThrottle(() => 0, 0)).toThrow(RangeError);
  });
});
