/**
 * Proof of work: the crypto, the server's guard (once only, expiry, forgery,
 * purpose, adaptive difficulty), and the endpoints that require it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, base64url, randomBytes, utf8 } from '../crypto/bytes.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { PowError, checkSolution, issueChallenge, leadingZeroBits, readChallenge, solveChallenge } from '../crypto/proof-of-work.ts';
import { PowGuard, uploadExtraBits } from '../server/abuse/pow-guard.ts';
import { powKeyId } from '../server/abuse/pow-keys.ts';
import { openDatabase, migrateToLatest } from '../server/db/open-database.ts';
import { sweepSpentChallenges } from '../server/abuse/spent-challenges.ts';
import { migrationProvider } from '../migrations/index.ts';
import { Migrator, sql } from 'kysely';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from './helpers/postgres.ts';
import { readDataDir } from '../server/data-dir.ts';
import { ApiError } from '../server/http/api-error.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { ON_POSTGRES, addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';

const secret = randomBytes(32);
const now = new Date('2026-11-28T12:00:00Z');

/** A nonce that does NOT meet the difficulty (the first one whose hash has a 1 in the first bit). */
function wrongNonce(challenge: string): string {
  for (let n = 0; ; n++) if (leadingZeroBits(sha256(utf8.encode(`${challenge}:${n}`))) === 0) return String(n);
}

describe('proof-of-work crypto', () => {
  it('counts leading zero bits', () => {
    expect(leadingZeroBits(new Uint8Array([0x80]))).toBe(0);
    expect(leadingZeroBits(new Uint8Array([0x01]))).toBe(7);
    expect(leadingZeroBits(new Uint8Array([0, 0x10, 0xff]))).toBe(11);
    expect(leadingZeroBits(new Uint8Array(4))).toBe(32);
  });

  it('a solved challenge checks; the answer really has the zero bits', async () => {
    const challenge = issueChallenge(secret, { key: 'k1', purpose: 'tip', difficulty: 10, ttlSeconds: 600, now });
    const nonce = await solveChallenge(challenge);
    expect(leadingZeroBits(sha256(utf8.encode(`${challenge}:${nonce}`)))).toBeGreaterThanOrEqual(10);
    expect(checkSolution(secret, challenge, nonce, { purpose: 'tip', now }).difficulty).toBe(10);
  });

  it('refuses a wrong answer, another purpose, an expired or forged challenge, and junk', async () => {
    const challenge = issueChallenge(secret, { key: 'k1', purpose: 'tip', difficulty: 8, ttlSeconds: 60, now });
    const nonce = await solveChallenge(challenge);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as PowError).code;
      }
      return 'accepted';
    };
    expect(code(() => checkSolution(secret, challenge, wrongNonce(challenge), { purpose: 'tip', now }))).toBe('insufficient');
    expect(code(() => checkSolution(secret, challenge, nonce, { purpose: 'followup', now }))).toBe('wrong-purpose');
    expect(code(() => checkSolution(secret, challenge, nonce, { purpose: 'tip', now: new Date(now.getTime() + 61_000) }))).toBe('expired');
    expect(code(() => checkSolution(randomBytes(32), challenge, nonce, { purpose: 'tip', now }))).toBe('forged');
    // Lowering the difficulty in the payload breaks the HMAC.
    const payload = { ...readChallenge(challenge), difficulty: 0 };
    const tampered = `${base64url.encode(utf8.encode(JSON.stringify(payload)))}.${challenge.split('.')[1]}`;
    expect(code(() => checkSolution(secret, tampered, '1', { purpose: 'tip', now }))).toBe('forged');
    expect(code(() => checkSolution(secret, 'garbage', nonce, { purpose: 'tip', now }))).toBe('malformed');
    expect(code(() => checkSolution(secret, challenge, '12abc', { purpose: 'tip', now }))).toBe('malformed');
  });

  it('the solver reports progress and can be stopped', async () => {
    const challenge = issueChallenge(secret, { key: 'k1', purpose: 'tip', difficulty: 30, ttlSeconds: 600, now });
    const controller = new AbortController();
    let reports = 0;
    const solving = solveChallenge(challenge, {
      signal: controller.signal,
      onProgress: (tried, expected) => {
        expect(expected).toBe(2 ** 30);
        if (++reports === 3) controller.abort();
      },
    });
    await expect(solving).rejects.toThrow(/stopped/);
    expect(reports).toBe(3);
  });
});

describe('PowGuard', () => {
  let newsroom: TestNewsroom;
  beforeAll(async () => {
    newsroom = await makeNewsroom();
  });
  afterAll(async () => newsroom.cleanup());

  it('accepts an answer once, and refuses a replay with 409', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 6 });
      const { challenge } = await guard.issue('tip');
      const nonce = await solveChallenge(challenge);
      await guard.redeem({ challenge, nonce }, 'tip');
      await expect(guard.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 409, code: 'pow-replayed' });
      // A second guard on the same database (another instance) shares the secret and the spent list.
      const other = await PowGuard.open(db, { baseDifficulty: 6 });
      await expect(other.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 409 });
      const fresh = await other.issue('tip');
      await guard.redeem({ challenge: fresh.challenge, nonce: await solveChallenge(fresh.challenge) }, 'tip');
    } finally {
      await db.destroy();
    }
  });

  it('answers each failure with a clear 4xx', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    let clock = now;
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 6, ttlSeconds: 60, clock: () => clock });
      await expect(guard.redeem(undefined, 'tip')).rejects.toMatchObject({ status: 400, code: 'pow-required' });
      const { challenge } = await guard.issue('tip');
      await expect(guard.redeem({ challenge, nonce: wrongNonce(challenge) }, 'tip')).rejects.toMatchObject({ status: 400, code: 'pow-insufficient' });
      const nonce = await solveChallenge(challenge);
      const [body, mac] = challenge.split('.');
      const forged = `${body}.${mac![0] === 'A' ? 'B' : 'A'}${mac!.slice(1)}`;
      await expect(guard.redeem({ challenge: forged, nonce }, 'tip')).rejects.toMatchObject({ status: 403 });
      await expect(guard.redeem({ challenge, nonce }, 'followup')).rejects.toMatchObject({ status: 400, code: 'pow-wrong-purpose' });
      clock = new Date(now.getTime() + 120_000);
      await expect(guard.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 410, code: 'pow-expired' });
    } finally {
      await db.destroy();
    }
  });

  it('raises the difficulty under a burst, and lowers it when calm returns', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    let clock = now;
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 4, calmPerMinute: 2, clock: () => clock });
      expect(guard.currentDifficulty()).toBe(4);
      const seen: number[] = [];
      for (let i = 0; i < 200; i++) {
        const { challenge, difficulty } = await guard.issue('tip');
        seen.push(difficulty);
        await guard.redeem({ challenge, nonce: await solveChallenge(challenge) }, 'tip');
      }
      // 200 in one minute = 20/min over the 10-minute window: 10× calm, so about log2(10) ≈ 4 bits more.
      expect(guard.currentDifficulty()).toBeGreaterThanOrEqual(7);
      expect(seen.at(-1)!).toBeGreaterThan(seen[0]!);
      clock = new Date(now.getTime() + 11 * 60_000);
      expect(guard.currentDifficulty()).toBe(4);
    } finally {
      await db.destroy();
    }
  });

  it('stores a spent challenge as its random id and the UTC day of its expiry, never a time', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 4, clock: () => now });
      const { challenge } = await guard.issue('tip');
      await guard.redeem({ challenge, nonce: await solveChallenge(challenge) }, 'tip');
      const { id, expires } = readChallenge(challenge);
      const row = (await sql<Record<string, unknown>>`SELECT * FROM spent_challenges WHERE id = ${id}`.execute(db)).rows[0]!;
      // An examiner's view of the row: exactly two columns, neither of which says more than the day.
      expect(row).toEqual({ id, day: '2026-11-28' });
      expect(JSON.stringify(row)).not.toContain(String(expires));
      expect(JSON.stringify(row)).not.toMatch(/\d{2}:\d{2}|\d{9,}/);
    } finally {
      await db.destroy();
    }
  });

  it('refuses a replay for as long as the challenge is valid, across UTC midnight and the daily sweep', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    const beforeMidnight = new Date('2026-11-28T23:55:00Z');
    let clock = beforeMidnight;
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 4, ttlSeconds: 600, clock: () => clock });
      const { challenge } = await guard.issue('tip'); // valid until 00:05:00 on the 29th
      const nonce = await solveChallenge(challenge);
      await guard.redeem({ challenge, nonce }, 'tip');
      // The attacker replays it just after midnight, after the guard's own sweep (due: more than a minute later) and maintain's both ran for the new day.
      clock = new Date('2026-11-29T00:04:59Z');
      await sweepSpentChallenges(db, '2026-11-29');
      const other = await PowGuard.open(db, { baseDifficulty: 4, ttlSeconds: 600, clock: () => clock });
      await expect(other.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 409, code: 'pow-replayed' });
      await expect(guard.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 409, code: 'pow-replayed' });
      // Once the challenge has expired, the row no longer matters: the next day's sweep deletes it, and the replay is still refused, as expired.
      const { id } = readChallenge(challenge);
      expect(await sweepSpentChallenges(db, '2026-11-29')).toBe(0);
      expect(await sweepSpentChallenges(db, '2026-11-30')).toBeGreaterThanOrEqual(1);
      expect(await db.selectFrom('spent_challenges').select('id').where('id', '=', id).executeTakeFirst()).toBeUndefined();
      clock = new Date('2026-11-30T00:00:01Z');
      await expect(guard.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 410, code: 'pow-expired' });
      await expect(sweepSpentChallenges(db, 'yesterday')).rejects.toThrow(RangeError);
    } finally {
      await db.destroy();
    }
  });

  it('migration 0011 turns existing rows\' expiry seconds into days, and a challenge spent before the upgrade stays spent', async () => {
    const fresh = ON_POSTGRES ? await createTestDatabase() : undefined;
    const dir = fresh ? undefined : await mkdtemp(join(tmpdir(), 'tipline-0011-'));
    const db = await openDatabase(fresh?.url ?? join(dir!, 'tipline.db'), { migrate: false });
    try {
      const to = await new Migrator({ db, provider: migrationProvider }).migrateTo('0009-admin-times-as-days');
      expect(to.error).toBeUndefined();
      // A secret and a challenge spent under the old code (row: id + expiry in Unix seconds), valid until 00:05 on the 29th.
      const clock = new Date('2026-11-28T23:55:00Z');
      const old = await PowGuard.open(db, { baseDifficulty: 4, clock: () => clock });
      const { challenge } = await old.issue('tip');
      const nonce = await solveChallenge(challenge);
      const { id, expires } = readChallenge(challenge);
      await sql`INSERT INTO spent_challenges (id, expires) VALUES (${id}, ${expires}), ('late-2026-11-27', ${Date.parse('2026-11-27T23:59:59Z') / 1000})`.execute(db);
      await migrateToLatest(db);
      const rows = (await sql<Record<string, unknown>>`SELECT * FROM spent_challenges ORDER BY id`.execute(db)).rows;
      expect(rows).toEqual([{ id: 'late-2026-11-27', day: '2026-11-27' }, { id, day: '2026-11-29' }].sort((a, b) => (a.id < b.id ? -1 : 1)));
      const upgraded = await PowGuard.open(db, { baseDifficulty: 4, clock: () => new Date('2026-11-29T00:01:00Z') });
      await expect(upgraded.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 409, code: 'pow-replayed' });
    } finally {
      await db.destroy();
      await fresh?.drop();
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a stockpiled answer once the difficulty has risen (issue 17: taken at 16, spent at 18)', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    const clock = new Date('2026-11-28T12:00:00Z');
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 4, calmPerMinute: 2, clock: () => clock });
      // The flooder solves cheap challenges in a calm minute and keeps them.
      const stockpile: { challenge: string; nonce: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const { challenge, difficulty } = await guard.issue('tip');
        expect(difficulty).toBe(4);
        stockpile.push({ challenge, nonce: await solveChallenge(challenge) });
      }
      // A burst raises the work asked…
      for (let i = 0; i < 200; i++) {
        const { challenge } = await guard.issue('tip');
        await guard.redeem({ challenge, nonce: await solveChallenge(challenge) }, 'tip');
      }
      expect(guard.currentDifficulty()).toBeGreaterThanOrEqual(6);
      // …and the stockpile is worthless: every answer is refused, none is spent.
      for (const pow of stockpile) await expect(guard.redeem(pow, 'tip')).rejects.toMatchObject({ status: 409, code: 'pow-too-easy' });
      // A challenge issued now carries the new difficulty (signed in) and is accepted.
      const fresh = await guard.issue('tip');
      expect(readChallenge(fresh.challenge).difficulty).toBe(guard.currentDifficulty());
      await guard.redeem({ challenge: fresh.challenge, nonce: await solveChallenge(fresh.challenge) }, 'tip');
      // Raising the difficulty in the payload breaks the signature.
      const { challenge } = stockpile[0]!;
      const payload = { ...readChallenge(challenge), difficulty: 12 };
      const tampered = `${base64url.encode(utf8.encode(JSON.stringify(payload)))}.${challenge.split('.')[1]}`;
      await expect(guard.redeem({ challenge: tampered, nonce: stockpile[0]!.nonce }, 'tip')).rejects.toMatchObject({ status: 403 });
    } finally {
      await db.destroy();
    }
  });

  it('prices an upload by its declared size: a cheap answer does not buy a big upload', async () => {
    const db = await openDatabase((await readDataDir(newsroom.dataDir)).dbFile);
    try {
      const guard = await PowGuard.open(db, { baseDifficulty: 4 });
      expect((await guard.issue('upload', { bytes: 1 << 20 })).difficulty).toBe(4);
      expect((await guard.issue('upload', { bytes: 16 << 20 })).difficulty).toBe(4);
      expect((await guard.issue('upload', { bytes: 32 << 20 })).difficulty).toBe(5);
      expect((await guard.issue('upload', { bytes: 2 ** 31 + (1 << 20) })).difficulty).toBe(11);
      expect(uploadExtraBits(2 ** 31 + (1 << 20))).toBe(7);
      const small = await guard.issue('upload', { bytes: 1 << 20 });
      const answer = { challenge: small.challenge, nonce: await solveChallenge(small.challenge) };
      await expect(guard.redeem(answer, 'upload', { bytes: 2 ** 31 })).rejects.toMatchObject({ status: 409, code: 'pow-too-easy' });
      await guard.redeem(answer, 'upload', { bytes: 1 << 20 });
    } finally {
      await db.destroy();
    }
  });

  it('rotates the secret: a stolen one stops working after two periods; instances share the rotation and rotate once', async () => {
    const fresh = ON_POSTGRES ? await createTestDatabase() : undefined;
    const dir = fresh ? undefined : await mkdtemp(join(tmpdir(), 'tipline-rotate-'));
    const db = await openDatabase(fresh?.url ?? join(dir!, 'tipline.db'));
    // Two instances: on PostgreSQL two connections pools; SQLite has one server process, so two guards on one handle.
    const other = fresh ? await openDatabase(fresh.url) : db;
    let clock = new Date('2026-11-28T12:00:00Z');
    const at = (seconds: number) => (clock = new Date(Date.parse('2026-11-28T12:00:00Z') + seconds * 1000));
    const secretRows = async () =>
      new Map((await db.selectFrom('server_secrets').select(['name', 'value']).where('name', 'like', 'pow-%').execute()).map((r) => [r.name, Buffer.from(r.value).toString('hex')]));
    try {
      const a = await PowGuard.open(db, { baseDifficulty: 2, ttlSeconds: 60, clock: () => clock });
      const b = await PowGuard.open(other, { baseDifficulty: 2, ttlSeconds: 60, clock: () => clock });
      // The attacker reads the signing secret out of the server (or a seized disk) and mints long-lived challenges.
      const stolen = new Uint8Array(Buffer.from((await secretRows()).get('pow-key-current')!, 'hex'));
      const mint = () => issueChallenge(stolen, { key: powKeyId(stolen), purpose: 'tip', difficulty: 2, ttlSeconds: 3600, now: clock });
      const minted = async () => {
        const challenge = mint();
        return { challenge, nonce: await solveChallenge(challenge) };
      };
      await a.redeem(await minted(), 'tip'); // while the secret is live, it works
      const first = readChallenge((await a.issue('tip')).challenge).key;
      expect(first).toBe(powKeyId(stolen));
      // Both instances come due at once: exactly one rotation happens (compare-and-set), not two.
      at(61);
      const before = await secretRows();
      const [fromA, fromB] = await Promise.all([a.issue('tip'), b.issue('tip')]);
      const after = await secretRows();
      expect(after.get('pow-key-previous')).toBe(before.get('pow-key-current'));
      expect(after.get('pow-key-current')).toBe(before.get('pow-key-next'));
      expect(readChallenge(fromA.challenge).key).toBe(readChallenge(fromB.challenge).key);
      expect(readChallenge(fromA.challenge).key).not.toBe(first);
      // The stolen secret is now the previous one: still accepted for one period (challenges issued just before the rotation must stay good).
      await b.redeem(await minted(), 'tip');
      // After the second rotation it is gone everywhere.
      at(122);
      await a.issue('tip');
      at(130);
      await expect(a.redeem(await minted(), 'tip')).rejects.toMatchObject({ status: 403, code: 'pow-forged' });
      // The other instance re-reads the rows at most 30 s after its last read (here: on its next challenge), then refuses it too.
      await b.issue('tip');
      await expect(b.redeem(await minted(), 'tip')).rejects.toMatchObject({ status: 403, code: 'pow-forged' });
      // A challenge the rotating instance issued is accepted by the other before it has re-read the rows (it was "next" there).
      at(190);
      const c = await PowGuard.open(other, { baseDifficulty: 2, ttlSeconds: 60, clock: () => clock });
      at(250);
      const rotated = await a.issue('tip');
      expect(readChallenge(rotated.challenge).key).not.toBe(readChallenge(fromA.challenge).key);
      await c.redeem({ challenge: rotated.challenge, nonce: await solveChallenge(rotated.challenge) }, 'tip');
      // The rows are three names and three random 32-byte values: no counter, no time.
      const rows = await db.selectFrom('server_secrets').selectAll().where('name', 'like', 'pow-%').execute();
      expect(rows.map((r) => r.name).sort()).toEqual(['pow-key-current', 'pow-key-next', 'pow-key-previous']);
      for (const r of rows) expect(r.value.length).toBe(32);
    } finally {
      if (other !== db) await other.destroy();
      await db.destroy();
      await fresh?.drop();
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  it('is an ApiError the app turns into the error JSON', () => {
    expect(new ApiError(409, 'pow-replayed', 'x')).toBeInstanceOf(Error);
  });
});

describe('endpoints that need a proof of work', () => {
  let newsroom: TestNewsroom;
  let t: TestApp;
  let ciphertext: string;
  beforeAll(async () => {
    newsroom = await makeNewsroom();
    await addTestJournalist(newsroom, 'Ana');
    t = await openTestApp(newsroom, { pow: { baseDifficulty: 8 } });
    const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
    const keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
    ciphertext = base64.encode(await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'pow', fields: {} })), keys));
  });
  afterAll(async () => {
    await t.close();
    await newsroom.cleanup();
  });
  const post = (path: string, body: unknown) => t.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('issues challenges for each purpose and refuses an unknown one', async () => {
    for (const purpose of ['tip', 'followup', 'upload']) {
      const res = await post('/api/v1/challenge', { purpose });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { challenge: string; difficulty: number; expiresIn: number };
      expect(body.difficulty).toBe(8);
      expect(readChallenge(body.challenge).purpose).toBe(purpose);
    }
    expect((await post('/api/v1/challenge', { purpose: 'other' })).status).toBe(400);
  });

  it('a tip without an answer is refused; with one it is stored; the same answer twice is refused', async () => {
    const lookupSecret = () => base64.encode(randomBytes(32));
    const missing = await post('/api/v1/tips', { ciphertext, lookupSecret: lookupSecret() });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('pow-required');
    const { challenge } = (await (await post('/api/v1/challenge', { purpose: 'tip' })).json()) as { challenge: string };
    const pow = { challenge, nonce: await solveChallenge(challenge) };
    expect((await post('/api/v1/tips', { ciphertext, lookupSecret: lookupSecret(), pow })).status).toBe(201);
    const replay = await post('/api/v1/tips', { ciphertext, lookupSecret: lookupSecret(), pow });
    expect(replay.status).toBe(409);
    // A follow-up challenge can't pay for a tip.
    const f = (await (await post('/api/v1/challenge', { purpose: 'followup' })).json()) as { challenge: string };
    expect((await post('/api/v1/tips', { ciphertext, lookupSecret: lookupSecret(), pow: { challenge: f.challenge, nonce: await solveChallenge(f.challenge) } })).status).toBe(400);
  });
});
