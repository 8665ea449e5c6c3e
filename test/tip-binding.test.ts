/**
 * The server's labels against what a message says about itself. A tip or
 * follow-up now carries, inside the encryption, the conversation it was
 * written for and who encrypted it (the source's browser, or the server's
 * no-JavaScript path). A compromised server then edits its own database the
 * way an attacker would: it relabels a no-JavaScript tip as encrypted in the
 * browser, moves a follow-up into another source's conversation, and lists a
 * first tip as a follow-up of someone else. The real `fetch` and `decrypt`
 * must believe the message, refuse to file what was moved, and say which
 * messages were sent before they carried these (bound: false).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { threadIdOf } from '../crypto/codename.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey, type PublicKey } from '../crypto/envelope.ts';
import { verifyManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, TipDocumentError, decodeTipDocument, type TipDocument } from '../crypto/tip-document.ts';
import { pseudonymFor } from '../client/journalist/pseudonym.ts';
import { readDataDir } from '../server/data-dir.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;
let testApp: TestApp;
let journalist: TestJournalist;
let server: ServerProcess;
let recipients: PublicKey[];

const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const encrypt = async (doc: TipDocument) => base64.encode(await encryptToKeys(padToBucket(encodeTipDocument(doc)), recipients));

/** A first tip sent the way the page sends it now (bound), or the way it did before (`bound: false`). */
async function browserTip(message: string, o: { bound: boolean }): Promise<{ lookupSecret: Uint8Array; threadId: string }> {
  const lookupSecret = randomBytes(32);
  const threadId = threadIdOf(lookupSecret);
  const doc: TipDocument = { type: 'tip', message, fields: {}, ...(o.bound ? { threadId, encryptedBy: 'browser' as const } : {}) };
  const res = await testApp.app.request('/api/v1/tips', json({ ciphertext: await encrypt(doc), lookupSecret: base64.encode(lookupSecret) }));
  expect(res.status, await res.clone().text()).toBe(201);
  return { lookupSecret, threadId };
}

async function tipIdsOf(threadId: string): Promise<{ id: string; kind: string }[]> {
  return testApp.db.selectFrom('tips').select(['id', 'kind']).where('thread_id', '=', threadId).orderBy('seq').execute();
}

const ids = { noJs: '', followup: '', firstOfC: '', old: '' };
const threads = { noJs: '', a: '', b: '', c: '', old: '' };

beforeAll(async () => {
  newsroom = await makeNewsroom();
  journalist = await addTestJournalist(newsroom, 'Ana');
  testApp = await openTestApp(newsroom);
  const dir = await readDataDir(newsroom.dataDir);
  const manifest = verifyManifest(await (await testApp.app.request('/api/v1/manifest')).json(), dir.newsroomPublicKey, { today: utcDay() });
  recipients = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));

  // A no-JavaScript tip: the server encrypts it, and writes 'server' inside.
  const form = await noJsPoster((p, init) => testApp.app.request(p, init))('/submit', new URLSearchParams({ message: 'They met at the restaurant.' }).toString());
  expect(form.status).toBe(201);
  const [noJs] = await testApp.db.selectFrom('tips').select(['id', 'thread_id']).execute();
  ids.noJs = noJs!.id;
  threads.noJs = noJs!.thread_id!;

  // Source A: a tip, then a follow-up from the logged-in page, which asks the server for its conversation.
  const a = await browserTip('Source A: the office on the third floor.', { bound: true });
  threads.a = a.threadId;
  const login = await testApp.app.request('/api/v1/source/login', json({ lookupSecret: base64.encode(a.lookupSecret) }));
  expect(login.status).toBe(200);
  const cookie = `tl_session=${/tl_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!}`;
  const thread = (await (await testApp.app.request('/api/v1/source/thread', { headers: { cookie } })).json()) as { threadId: string };
  expect(thread.threadId).toBe(a.threadId);
  const followup = await testApp.app.request('/api/v1/source/followups', json({ ciphertext: await encrypt({ type: 'followup', message: 'Source A again: they have a list of names.', fields: {}, threadId: thread.threadId, encryptedBy: 'browser' }) }, { cookie }));
  expect(followup.status, await followup.clone().text()).toBe(201);
  ids.followup = (await tipIdsOf(a.threadId))[1]!.id;

  // Source B and source C: one tip each. And a tip from before the binding.
  threads.b = (await browserTip('Source B: my brother was questioned.', { bound: true })).threadId;
  threads.c = (await browserTip('Source C: the car is registered abroad.', { bound: true })).threadId;
  ids.firstOfC = (await tipIdsOf(threads.c))[0]!.id;
  threads.old = (await browserTip('An older tip, sent before the binding.', { bound: false })).threadId;
  ids.old = (await tipIdsOf(threads.old))[0]!.id;

  // The compromised server edits its own labels.
  await testApp.db.updateTable('tips').set({ via: 'browser' }).where('id', '=', ids.noJs).execute();
  await testApp.db.updateTable('tips').set({ thread_id: threads.b, seq: 2 }).where('id', '=', ids.followup).execute();
  await testApp.db.updateTable('tips').set({ thread_id: threads.b, seq: 3, kind: 'followup' }).where('id', '=', ids.firstOfC).execute();

  server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await testApp?.close();
  await newsroom?.cleanup();
});

describe('what a message says about itself, against the server\'s labels', () => {
  it('the document refuses malformed bindings, and replies carry none', () => {
    const base: TipDocument = { type: 'tip', message: 'x', fields: {} };
    expect(() => encodeTipDocument({ ...base, threadId: 'ABC' })).toThrow(TipDocumentError);
    expect(() => encodeTipDocument({ ...base, encryptedBy: 'nobody' as 'browser' })).toThrow(TipDocumentError);
    expect(() => encodeTipDocument({ type: 'reply', message: 'x', fields: {}, encryptedBy: 'browser' })).toThrow(TipDocumentError);
    const threadId = 'ab'.repeat(32);
    expect(decodeTipDocument(encodeTipDocument({ ...base, threadId, encryptedBy: 'server' }))).toMatchObject({ threadId, encryptedBy: 'server' });
  });

  it('decrypt believes the message, refuses what was moved, and marks what was sent before', async () => {
    const tokenFile = join(newsroom.root, 'token');
    const keyFile = join(newsroom.root, 'secret.asc');
    const inbox = join(newsroom.root, 'inbox');
    const out = join(newsroom.root, 'read');
    await writeFile(tokenFile, `${journalist.token}\n`, { mode: 0o600 });
    await writeFile(keyFile, journalist.armoredPrivateKey, { mode: 0o600 });
    const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', inbox]);
    expect(fetched, fetched.stderr).toMatchObject({ code: 0 });

    const run = await runCli(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
    const said = run.stdout + run.stderr;
    expect(run.code).not.toBe(0);
    expect(said).toContain('2 failed');
    expect(said).toMatch(new RegExp(`could not decrypt ${ids.followup}: the server filed it in another conversation than the one it was written for`));
    expect(said).toMatch(new RegExp(`could not decrypt ${ids.firstOfC}: the server lists it as a follow-up, but it is a tip`));
    expect(said).toContain(`warning: the server labels ${ids.noJs} as encrypted by the browser, but the message says by the server`);
    expect(said).not.toMatch(/^\s+at /m);

    const meta = async (threadId: string, seq: number, kind: string, id: string) =>
      JSON.parse(await readFile(join(out, pseudonymFor(threadId), `${String(seq).padStart(3, '0')}-${kind}-${id}`, 'meta.json'), 'utf8')) as Record<string, unknown>;
    // The relabelled no-JavaScript tip still tells the journalist the server saw it.
    expect(await meta(threads.noJs, 1, 'tip', ids.noJs)).toMatchObject({ encryptedBy: 'server', bound: true });
    expect(await meta(threads.old, 1, 'tip', ids.old)).toMatchObject({ encryptedBy: 'browser', bound: false });
    // Source B's conversation holds only source B's words.
    const bFolder = join(out, pseudonymFor(threads.b));
    const inB = await readdir(bFolder);
    expect(inB.filter((n) => n !== 'thread.json')).toEqual([expect.stringMatching(/^001-tip-/)]);
    expect(await readFile(join(bFolder, inB.find((n) => n.startsWith('001-'))!, 'message.txt'), 'utf8')).toBe('Source B: my brother was questioned.');
    // Source A's and C's words were written nowhere.
    const everything = await readdir(out, { recursive: true });
    for (const id of [ids.followup, ids.firstOfC]) expect(everything.filter((p) => String(p).includes(id))).toEqual([]);
  }, 60_000);
});
