/**
 * Crash safety: a tip that got a receipt survives `kill -9`.
 *
 * `tipline serve` runs as a child process; the test floods it with real tips from
 * eight concurrent loops and sends SIGKILL while requests are still in flight.
 * After a restart on the same data directory, every receipt the client was given
 * must name a stored tip that decrypts to the message sent with it, every stored
 * row must be a whole OpenPGP message, and SQLite's integrity check must pass.
 *
 * The three rounds run consecutively on ONE data directory, so each round also
 * starts from a database that was itself recovered after a kill -9, and each
 * check covers every receipt from every earlier round too.
 */
import { once } from 'node:events';
import Database from 'better-sqlite3';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { verifyManifest, type SignedManifest } from '../crypto/manifest.ts';
import { inspectEncryptedMessage } from '../crypto/packets.ts';
import { padToBucket } from '../crypto/padding.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { dataDirPaths, readDataDir } from '../server/data-dir.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';

/** No round sends more than this many tips. */
const MAX_REQUESTS = 300;
const LOOPS = 8;
const KILL_POINTS = [20, 60, 120];

let newsroom: TestNewsroom;
let ana: TestJournalist;
let keys: openpgp.PublicKey[];
/** Every receipt any round was given, with the message it was for. */
const receipts = new Map<string, string>();
/** Messages whose connection died with the server: they may or may not be stored. */
const cut = new Set<string>();
const running: ServerProcess[] = [];

const start = async (): Promise<ServerProcess> => {
  for (let attempt = 1; ; attempt++) {
    try {
      const server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
      running.push(server);
      return server;
    } catch (e) {
      // Another vitest run in this checkout may be rebuilding dist/ (build.mjs empties it first): wait and retry.
      if (attempt >= 5 || !/run: npm run build/.test((e as Error).message)) throw e;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
};

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  const server = await start();
  try {
    const signed = (await (await fetch(`${server.url}/api/v1/manifest`)).json()) as SignedManifest;
    const manifest = verifyManifest(signed, (await readDataDir(newsroom.dataDir)).newsroomPublicKey, { today: utcDay() });
    keys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
  } finally {
    await server.stop();
  }
});

afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await newsroom?.cleanup();
});

type Pooled = { message: string; body: string };

async function encryptPool(round: number, size: number): Promise<Pooled[]> {
  const pool: Pooled[] = [];
  for (let i = 0; i < size; i++) {
    const message = `tip ${round}-${i}`;
    const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message, fields: {} })), keys);
    pool.push({ message, body: JSON.stringify({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)) }) });
  }
  return pool;
}

type FloodResult = { acknowledged: number; failedInFlight: number; inFlightAtKill: number; refused: number; attempted: number };

/** Floods `server` from LOOPS loops; once `killAfter` receipts are in, SIGKILLs it mid-flight. */
async function flood(server: ServerProcess, pool: Pooled[], killAfter: number): Promise<FloodResult> {
  let next = 0;
  let acknowledged = 0;
  let failedInFlight = 0;
  let refused = 0;
  let pending = 0;
  let inFlightAtKill = -1;
  let killed = false;
  const exited = once(server.child, 'exit');

  const loop = async () => {
    while (!killed && next < pool.length) {
      const tip = pool[next++]!;
      pending++;
      try {
        const res = await fetch(`${server.url}/api/v1/tips`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: tip.body });
        const text = await res.text();
        if (res.status !== 201) {
          refused++;
          continue;
        }
        const { receipt } = JSON.parse(text) as { receipt: string };
        receipts.set(receipt, tip.message);
        acknowledged++;
        if (acknowledged >= killAfter && !killed) {
          killed = true;
          // This request is done; the others that were sent are still in flight.
          inFlightAtKill = pending - 1;
          server.child.kill('SIGKILL');
        }
      } catch {
        // The connection died with the server: the tip may or may not be stored, and no receipt was given.
        cut.add(tip.message);
        failedInFlight++;
      } finally {
        pending--;
      }
    }
  };
  await Promise.all(Array.from({ length: LOOPS }, loop));
  if (!killed) throw new Error(`the pool of ${pool.length} ran out before ${killAfter} receipts`);
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
  return { acknowledged, failedInFlight, inFlightAtKill, refused, attempted: next };
}

/** Everything the journalist can list and fetch, decrypted and decoded. */
async function storedTips(server: ServerProcess): Promise<Map<string, string>> {
  const auth = { authorization: `Bearer ${ana.token}` };
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const url = `${server.url}/api/v1/journalist/tips?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await fetch(url, { headers: auth });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { tips: { id: string }[]; nextCursor: string | null };
    ids.push(...page.tips.map((t) => t.id));
    cursor = page.nextCursor;
  } while (cursor);

  const stored = new Map<string, string>();
  for (const id of ids) {
    const res = await fetch(`${server.url}/api/v1/journalist/tips/${id}`, { headers: auth });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A whole message: PKESK packets then one complete SEIPD packet, nothing cut short.
    expect(() => inspectEncryptedMessage(bytes)).not.toThrow();
    const message = await openpgp.readMessage({ binaryMessage: bytes });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: ana.privateKey, format: 'binary' });
    stored.set(id, decodeTipDocument(data as Uint8Array).message);
  }
  return stored;
}

/** Opens the database read-only (the server is not running) for SQLite's own check and a row count. */
function inspectDatabase(): { integrity: string; tips: number } {
  const db = new Database(dataDirPaths(newsroom.dataDir).dbFile, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const tips = (db.prepare('SELECT count(*) AS n FROM tips').get() as { n: number }).n;
    return { integrity, tips };
  } finally {
    db.close();
  }
}

describe('kill -9 while tips are arriving', () => {
  KILL_POINTS.forEach((killAfter, round) => {
    it(`round ${round + 1}: SIGKILL after ${killAfter} receipts loses no acknowledged tip`, async () => {
      const before = receipts.size;
      // Encrypt this round's tips while the server starts.
      const [pool, flooded] = await Promise.all([encryptPool(round + 1, Math.min(MAX_REQUESTS, killAfter + 80)), start()]);
      const result = await flood(flooded, pool, killAfter);
      expect(result.acknowledged).toBeGreaterThanOrEqual(killAfter);
      expect(result.refused).toBe(0);
      // The kill landed while other tips were still on their way.
      expect(result.inFlightAtKill).toBeGreaterThan(0);
      // What the killed process left on disk is already consistent (a read-only open replays the WAL in memory).
      expect(inspectDatabase().integrity).toBe('ok');

      const restarted = await start();
      let stored: Map<string, string>;
      try {
        stored = await storedTips(restarted);
      } finally {
        await restarted.stop();
      }

      // Every receipt ever given names a stored tip with the message it was for.
      for (const [receipt, message] of receipts) expect(stored.get(receipt), `receipt ${receipt}`).toBe(message);
      // Every other stored tip is one whose connection was cut by the kill; none is stored twice.
      for (const [id, message] of stored) if (!receipts.has(id)) expect(cut.has(message), `unexpected stored tip "${message}"`).toBe(true);
      const messages = [...stored.values()];
      expect(new Set(messages).size).toBe(messages.length);

      const after = inspectDatabase();
      expect(after.integrity).toBe('ok');
      // The journalist API hid no row.
      expect(after.tips).toBe(stored.size);

      const unacknowledgedStored = stored.size - receipts.size;
      console.log(
        `[crash-safety] round ${round + 1}: kill after ${killAfter} receipts; sent ${result.attempted}, ` +
          `receipts this round ${receipts.size - before} (total ${receipts.size}), in flight at kill ${result.inFlightAtKill}, ` +
          `connections cut ${result.failedInFlight}, stored tips ${stored.size} (${unacknowledgedStored} stored without a receipt)`,
      );
    });
  });
});
