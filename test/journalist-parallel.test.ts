/**
 * `fetch` and `decrypt` work on several tips at once. What they leave must not
 * depend on that: a mixed inbox (conversations with follow-ups and replies, a
 * tip the server encrypted, an attachment, two conversations whose pseudonyms
 * collide, tips from before conversations) decrypts to the same tree, byte for
 * byte, one conversation at a time and many at once, in the documented layout;
 * one bad tip among many fails alone, named, with nothing half-written; and a
 * fetch that stops at one tip leaves only whole files and completes on the next run.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THREAD_FILE } from '../client/journalist/conversation-folders.ts';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { inOrder } from '../client/journalist/in-order.ts';
import { pseudonymFor, pseudonymWords } from '../client/journalist/pseudonym.ts';
import { hex, randomBytes, randomId, utf8 } from '../crypto/bytes.ts';
import { encryptToKeys } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, type TipDocument } from '../crypto/tip-document.ts';
import { addTestJournalist, makeNewsroom, type TestNewsroom } from './helpers/newsroom.ts';
import { startServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let root: string;
let key: openpgp.PrivateKey;
let publicKey: openpgp.PublicKey;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-parallel-'));
  const pair = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'J', email: 'j@example.org' }], format: 'object' });
  key = pair.privateKey;
  publicKey = pair.publicKey;
});
afterAll(() => rm(root, { recursive: true, force: true }));

const randomThreadId = () => hex.encode(randomBytes(32));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every file under `dir` (relative path → contents), and every folder (→ null). */
async function tree(dir: string): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = relative(dir, join(e.parentPath, e.name));
    out[path] = e.isDirectory() ? null : await readFile(join(dir, path), 'latin1');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

type Message = { id: string; threadId: string | null; kind: 'tip' | 'followup' | 'reply'; seq: number; via?: 'browser' | 'server'; doc: TipDocument; json?: 'none' };

/** An inbox as fetch leaves it: `<id>.gpg` and `<id>.json` per message, `<blobId>.gpg` per attachment. */
class Inbox {
  readonly dir = join(root, `inbox-${randomId()}`);
  readonly messages: Message[] = [];

  async add(m: Omit<Message, 'id'>, attachments: { name: string; bytes: Uint8Array }[] = []): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const id = randomId();
    const listed: { id: string; size: number }[] = [];
    const doc = { ...m.doc };
    if (attachments.length > 0) {
      doc.attachments = [];
      for (const a of attachments) {
        const blobId = randomId();
        const blob = new Uint8Array(await new Response(await encryptFileStream(new Blob([a.bytes as Uint8Array<ArrayBuffer>]).stream(), [publicKey])).arrayBuffer());
        await writeFile(join(this.dir, `${blobId}.gpg`), blob);
        doc.attachments.push({ blobId, name: a.name, type: 'application/octet-stream', size: a.bytes.length, sha256: sha256(a.bytes) });
        listed.push({ id: blobId, size: blob.length });
      }
    }
    await writeFile(join(this.dir, `${id}.gpg`), await encryptToKeys(padToBucket(encodeTipDocument(doc)), [publicKey]));
    if (m.json !== 'none') {
      const summary =
        m.kind === 'reply'
          ? { id, kind: 'reply', threadId: m.threadId, seq: m.seq, day: '2026-11-29', size: 4096 }
          : { id, receivedDay: '2026-11-28', via: m.via ?? 'browser', size: 4096, manifestVersion: 3, threadId: m.threadId, kind: m.kind, seq: m.seq, attachments: listed };
      await writeFile(join(this.dir, `${id}.json`), JSON.stringify(summary));
    }
    this.messages.push({ ...m, id });
    return id;
  }
}

const tipDoc = (message: string, replyKey = hex.encode(randomBytes(32))): TipDocument => ({ type: 'tip', message, fields: { contact: 'signal' }, replyPublicKey: replyKey, lang: 'en' });
const followupDoc = (message: string): TipDocument => ({ type: 'followup', message, fields: {} });
const replyDoc = (message: string): TipDocument => ({ type: 'reply', message, fields: {} });

/** A thread id whose pseudonym is the same as `threadId`'s (same first four digits, same two words). */
function collidingWith(threadId: string): string {
  for (let i = 0; i < 200_000; i++) {
    const other = threadId.slice(0, 4) + hex.encode(randomBytes(30));
    if (other !== threadId && pseudonymWords(other) === pseudonymWords(threadId)) return other;
  }
  throw new Error('no colliding thread id found');
}

describe('decrypt, one conversation at a time or many at once', () => {
  it('writes the same tree, byte for byte, in the documented layout, from a mixed inbox', async () => {
    const inbox = new Inbox();
    const a = randomThreadId();
    const aKey = hex.encode(randomBytes(32));
    const aTip = await inbox.add({ threadId: a, kind: 'tip', seq: 1, doc: tipDoc('A: the first tip', aKey) }, [{ name: 'ledger.csv', bytes: utf8.encode('date,amount\n2026-11-01,9000\n') }]);
    const aReply = await inbox.add({ threadId: a, kind: 'reply', seq: 2, doc: replyDoc('A: thank you, tell us more') });
    const aFollowup = await inbox.add({ threadId: a, kind: 'followup', seq: 3, via: 'server', doc: followupDoc('A: more, with JavaScript off') });
    const b = randomThreadId();
    const bTip = await inbox.add({ threadId: b, kind: 'tip', seq: 1, via: 'server', doc: tipDoc('B: typed with JavaScript off') });
    const bFollowups = [await inbox.add({ threadId: b, kind: 'followup', seq: 2, doc: followupDoc('B: two') }), await inbox.add({ threadId: b, kind: 'followup', seq: 3, doc: followupDoc('B: three') })];
    // Two conversations with the same pseudonym: the one first in thread-id order keeps the short name.
    const c = randomThreadId();
    const d = collidingWith(c);
    const [first, second] = c < d ? [c, d] : [d, c];
    const firstTip = await inbox.add({ threadId: first, kind: 'tip', seq: 1, doc: tipDoc('first of the pair') });
    const secondTip = await inbox.add({ threadId: second, kind: 'tip', seq: 1, doc: tipDoc('second of the pair') });
    // More conversations than work at once, so the order of finishing really varies.
    const singles: [string, string][] = [];
    for (let i = 0; i < 12; i++) {
      const t = randomThreadId();
      singles.push([t, await inbox.add({ threadId: t, kind: 'tip', seq: 1, doc: tipDoc(`single ${i}`) })]);
    }
    // Tips from before conversations: one whose .json says its day, one with no .json at all.
    const legacy = await inbox.add({ threadId: null, kind: 'tip', seq: 1, doc: tipDoc('from before conversations') });
    const noJson = await inbox.add({ threadId: null, kind: 'tip', seq: 1, json: 'none', doc: tipDoc('its .json went missing') });
    await writeFile(join(inbox.dir, `${legacy}.json`), JSON.stringify({ id: legacy, receivedDay: '2026-10-01', via: 'browser', size: 4096, manifestVersion: 1 }));

    const runs: { out: string; lines: string[]; result: Awaited<ReturnType<typeof decryptTips>> }[] = [];
    for (const inParallel of [1, undefined, 32]) {
      const out = join(root, `read-${inParallel ?? 'default'}`);
      const lines: string[] = [];
      const result = await decryptTips({ key, inDir: inbox.dir, outDir: out, log: (l) => lines.push(l), ...(inParallel ? { inParallel } : {}) });
      expect(result.failed).toEqual([]);
      runs.push({ out, lines, result });
    }
    const [one, ...others] = runs;
    const oneTree = await tree(one!.out);
    for (const other of others) {
      expect(await tree(other.out)).toEqual(oneTree);
      // What is printed and returned comes in the same order too.
      expect(other.result.decrypted.map((f) => relative(other.out, f))).toEqual(one!.result.decrypted.map((f) => relative(one!.out, f)));
      expect(other.lines.map((l) => l.replaceAll(other.out, 'OUT'))).toEqual(one!.lines.map((l) => l.replaceAll(one!.out, 'OUT')));
    }

    // The layout itself, as conversation-folders.ts documents it.
    const pa = pseudonymFor(a);
    const pb = pseudonymFor(b);
    const longName = `${pseudonymWords(second)}-${second.slice(0, 16)}`;
    const expectedFolders = [
      `${pa}/001-tip-${aTip}`, `${pa}/002-reply-${aReply}`, `${pa}/003-followup-${aFollowup}`,
      `${pb}/001-tip-${bTip}`, `${pb}/002-followup-${bFollowups[0]}`, `${pb}/003-followup-${bFollowups[1]}`,
      `${pseudonymFor(first)}/001-tip-${firstTip}`, `${longName}/001-tip-${secondTip}`,
      ...singles.map(([t, id]) => `${pseudonymFor(t)}/001-tip-${id}`),
      `2026-10-01_${legacy}`, `unknown-day_${noJson}`,
    ];
    expect(one!.result.decrypted.map((f) => relative(one!.out, f)).sort()).toEqual(expectedFolders.sort());
    // Conversation by conversation in thread-id order, each in its own order; then the old tips.
    const byId = (x: string, y: string) => (x.slice(-22) < y.slice(-22) ? -1 : 1);
    expect(one!.result.decrypted.map((f) => relative(one!.out, f)).slice(-2)).toEqual([`2026-10-01_${legacy}`, `unknown-day_${noJson}`].sort(byId));
    expect(Object.keys(oneTree).filter((p) => p.includes('.partial'))).toEqual([]);

    expect(oneTree[`${pa}/001-tip-${aTip}/message.txt`]).toBe('A: the first tip');
    expect(oneTree[`${pa}/001-tip-${aTip}/attachments/ledger.csv`]).toBe('date,amount\n2026-11-01,9000\n');
    expect(JSON.parse(oneTree[`${pa}/${THREAD_FILE}`]!)).toEqual({ threadId: a, pseudonym: pa, replyPublicKey: aKey, inbox: inbox.dir });
    expect(JSON.parse(oneTree[`${longName}/${THREAD_FILE}`]!)).toMatchObject({ threadId: second, pseudonym: longName });
    expect(JSON.parse(oneTree[`${pseudonymFor(first)}/${THREAD_FILE}`]!)).toMatchObject({ threadId: first });
    expect(JSON.parse(oneTree[`${pb}/001-tip-${bTip}/meta.json`]!)).toMatchObject({ kind: 'tip', seq: 1, encryptedBy: 'server', pseudonym: pb });
    expect(JSON.parse(oneTree[`${pa}/002-reply-${aReply}/meta.json`]!)).toMatchObject({ kind: 'reply', seq: 2, sentDay: '2026-11-29' });
    expect(JSON.parse(oneTree[`${pa}/001-tip-${aTip}/meta.json`]!).attachments).toEqual([
      { name: 'ledger.csv', savedAs: 'attachments/ledger.csv', size: 28, sha256: sha256(utf8.encode('date,amount\n2026-11-01,9000\n')), risky: false, metadataFound: [] },
    ]);

    // A second run, many at once, finds everything there and changes nothing.
    const again = await decryptTips({ key, inDir: inbox.dir, outDir: runs[1]!.out });
    expect(again).toEqual({ decrypted: [], alreadyDone: expectedFolders.length, failed: [] });
    expect(await tree(runs[1]!.out)).toEqual(oneTree);
  });

  it('fails one bad tip among many alone, named, with nothing of it left', async () => {
    const inbox = new Inbox();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await inbox.add({ threadId: randomThreadId(), kind: 'tip', seq: 1, doc: tipDoc(`tip ${i}`) }));
    const bad = ids[7]!;
    const bytes = await readFile(join(inbox.dir, `${bad}.gpg`));
    bytes[bytes.length - 30]! ^= 0x01;
    await writeFile(join(inbox.dir, `${bad}.gpg`), bytes);
    const badThread = inbox.messages.find((m) => m.id === bad)!.threadId!;

    const out = join(root, 'read-one-bad');
    const lines: string[] = [];
    const result = await decryptTips({ key, inDir: inbox.dir, outDir: out, log: (l) => lines.push(l) });
    expect(result.failed).toEqual([{ id: bad, reason: 'the ciphertext was altered (integrity check failed)' }]);
    expect(result.decrypted).toHaveLength(19);
    expect(lines).toContain(`could not decrypt ${bad}: the ciphertext was altered (integrity check failed)`);
    const names = await readdir(out, { recursive: true });
    expect(names.filter((n) => n.includes('partial'))).toEqual([]);
    expect(names.filter((n) => n.includes(bad))).toEqual([]);
    // Not even an empty conversation folder for it.
    expect(names).not.toContain(pseudonymFor(badThread));
    expect(names.filter((n) => n.endsWith('message.txt'))).toHaveLength(19);
  });
});

describe('inOrder', () => {
  it('keeps at most `limit` at work, reports in order whatever finishes first, and throws the earliest failure after the rest settle', async () => {
    let busy = 0;
    let most = 0;
    const reported: number[] = [];
    const delays = [30, 1, 20, 5, 1, 15, 2, 8, 1, 1];
    await inOrder(delays, 3, async (ms) => {
      most = Math.max(most, ++busy);
      await new Promise((r) => setTimeout(r, ms));
      busy--;
      return ms * 2;
    }, (r, ms, i) => reported.push(i, r - ms * 2));
    expect(most).toBe(3);
    expect(reported).toEqual(delays.flatMap((_, i) => [i, 0]));

    const settled: number[] = [];
    const seen: number[] = [];
    const failing = inOrder([40, 5, 1, 1, 1], 3, async (ms, i) => {
      await new Promise((r) => setTimeout(r, ms));
      if (i === 1 || i === 2) throw new Error(`item ${i} failed`);
      settled.push(i);
    }, (_, __, i) => seen.push(i));
    // Item 2 fails first in time, item 1 is earlier in order: item 1's error wins.
    await expect(failing).rejects.toThrow('item 1 failed');
    // Item 0 was under way and was let finish; nothing after the failure was started or reported.
    expect(settled).toEqual([0]);
    expect(seen).toEqual([]);
  });
});

describe('fetch, many tips per request and several requests at once', () => {
  let newsroom: TestNewsroom;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let token: string;
  // As many as the no-JavaScript form takes at once: two requests' worth.
  const TIPS = 30;
  beforeAll(async () => {
    newsroom = await makeNewsroom();
    token = (await addTestJournalist(newsroom, 'Ana')).token;
    // Tips arrive through the no-JavaScript form, with its token; its wait is played out in browser-submit and form-token.
    server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0']);
    const post = noJsPoster((p, init) => fetch(`${server.url}${p}`, init));
    for (let i = 0; i < TIPS; i++) {
      const res = await post('/submit', `message=tip%20${i}`);
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
    await newsroom.cleanup();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });
  const listed = async () => {
    const ids: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page = (await (await fetch(`${server.url}/api/v1/journalist/tips?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { headers: auth() })).json()) as { tips: { id: string }[]; nextCursor: string | null };
      ids.push(...page.tips.map((t) => t.id));
      cursor = page.nextCursor;
    }
    return ids;
  };
  const held = async (id: string) => new Uint8Array(await (await fetch(`${server.url}/api/v1/journalist/tips/${id}`, { headers: auth() })).arrayBuffer());

  /** The real server behind a stand-in that can break off on one tip, or play a server from before POST /tips/ciphertexts. */
  async function proxy(o: { failTip?: string; old?: boolean }): Promise<{ url: string; posts: () => number; close: () => void }> {
    let posts = 0;
    const p: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const batch = req.method === 'POST' && req.url === '/api/v1/journalist/tips/ciphertexts';
      if (batch) posts++;
      if (batch && o.old) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not-found', message: 'No such endpoint.' } }));
        return;
      }
      if (o.failTip && (req.url === `/api/v1/journalist/tips/${o.failTip}` || (batch && body.includes(o.failTip)))) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'internal', message: 'disk on fire' } }));
        return;
      }
      const headers: Record<string, string> = { authorization: req.headers.authorization ?? '' };
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      const upstream = await fetch(`${server.url}${req.url}`, { method: req.method!, headers, ...(req.method === 'POST' ? { body } : {}) });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' }).end(new Uint8Array(await upstream.arrayBuffer()));
    });
    await new Promise<void>((r) => p.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(p.address() as { port: number }).port}`, posts: () => posts, close: () => p.close() };
  }

  it('stops at a request the server fails, leaves only whole files, and completes on the next run, reporting in order', async () => {
    const order = await listed();
    expect(order).toHaveLength(TIPS);
    const failId = order[27]!;
    const broken = await proxy({ failTip: failId });
    const outDir = join(root, 'fetch-inbox');
    try {
      await expect(fetchTips({ server: broken.url, token, outDir })).rejects.toThrow('the server answered 500: disk on fire');
    } finally {
      broken.close();
    }
    const names = await readdir(outDir);
    expect(names.filter((n) => n.includes('partial'))).toEqual([]);
    // The tip that failed has its .json but no .gpg: not "complete here", so the next run fetches it.
    expect(names).toContain(`${failId}.json`);
    expect(names).not.toContain(`${failId}.gpg`);
    const gpgs = names.filter((n) => n.endsWith('.gpg'));
    expect(gpgs.length).toBeLessThan(TIPS);
    // Everything listed before it was under way, and was let finish.
    for (const id of order.slice(0, 25)) expect(gpgs).toContain(`${id}.gpg`);
    // Every .gpg there is whole: byte for byte what the server holds.
    for (const name of gpgs) expect(new Uint8Array(await readFile(join(outDir, name)))).toEqual(await held(name.slice(0, -4)));

    const lines: string[] = [];
    const again = await fetchTips({ server: server.url, token, outDir, log: (l) => lines.push(l) });
    expect(again).toMatchObject({ fetched: TIPS - gpgs.length, alreadyHad: gpgs.length });
    const all = (await readdir(outDir)).filter((n) => n.endsWith('.gpg'));
    expect(all).toHaveLength(TIPS);
    for (const name of all) expect(new Uint8Array(await readFile(join(outDir, name)))).toEqual(await held(name.slice(0, -4)));
    // Reported in the server's order, whichever request finished first.
    expect(lines.filter((l) => l.startsWith('fetched tip ')).map((l) => l.split(' ')[2])).toEqual(order.filter((id) => !gpgs.includes(`${id}.gpg`)));
  });

  it('asks for many tips per request, and falls back to one at a time on a server from before that', async () => {
    const order = await listed();
    for (const old of [false, true]) {
      const p = await proxy({ old });
      const outDir = join(root, `fetch-${old ? 'old' : 'new'}-server`);
      try {
        const r = await fetchTips({ server: p.url, token, outDir });
        expect(r).toMatchObject({ fetched: TIPS, alreadyHad: 0 });
        // 30 tips: two requests of at most 25 (an old server refuses each, and each tip is then asked for alone).
        expect(p.posts()).toBe(2);
      } finally {
        p.close();
      }
      for (const id of order) expect(new Uint8Array(await readFile(join(outDir, `${id}.gpg`)))).toEqual(await held(id));
    }
  });
});
