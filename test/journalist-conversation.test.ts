/**
 * A whole conversation as the people in it live it: a source sends a tip with
 * JavaScript off and keeps the codename; a journalist fetches, decrypts and
 * replies with the CLI; the source logs in, reads the reply and follows up; the
 * journalist reads the conversation in order, then deletes it. Along the way,
 * the refusals a journalist must be able to trust: a changed newsroom key, an
 * older key list, a bad signature, an unknown tip, an empty reply.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, hex, randomBytes } from '../crypto/bytes.ts';
import { decryptWithKey } from '../crypto/envelope.ts';
import { generateNewsroomKey } from '../crypto/manifest.ts';
import { decodeTipDocument } from '../crypto/tip-document.ts';
import { THREAD_FILE } from '../client/journalist/conversation-folders.ts';
import { checkServerManifest, MANIFEST_FILE, NewsroomKeyError, PINNED_KEY_FILE } from '../client/journalist/newsroom-pin.ts';
import { ADJECTIVES, NOUNS, pseudonymFor } from '../client/journalist/pseudonym.ts';
import { readDataDir } from '../server/data-dir.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
const randomThreadId = () => hex.encode(randomBytes(32));

describe('pseudonym', () => {
  const id = 'a3f2' + '0'.repeat(60);

  it('is the same two words every time for the same thread, plus its first four hex digits', () => {
    expect(pseudonymFor(id)).toBe(pseudonymFor(id));
    const [adjective, noun, suffix, ...rest] = pseudonymFor(id).split('-');
    expect(rest).toEqual([]);
    expect(ADJECTIVES).toContain(adjective);
    expect(NOUNS).toContain(noun);
    expect(suffix).toBe('a3f2');
  });

  it('differs between threads, words included, and spreads over the word lists', () => {
    // Same first four digits: only the words can tell these two apart.
    expect(pseudonymFor('0'.repeat(64)).replace(/-0000$/, '')).not.toBe(pseudonymFor('0'.repeat(63) + '1').replace(/-0000$/, ''));
    const ids = Array.from({ length: 500 }, randomThreadId);
    expect(new Set(ids.map(pseudonymFor)).size).toBe(500);
    // 500 draws from 4,096 word pairs: about 470 distinct expected; a broken derivation gives far fewer.
    expect(new Set(ids.map((t) => pseudonymFor(t).slice(0, -5))).size).toBeGreaterThan(400);
  });

  it('has 64 distinct lowercase words per list (one unbiased byte each) and refuses what is not a thread id', () => {
    for (const list of [ADJECTIVES, NOUNS]) {
      expect(list).toHaveLength(64);
      expect(new Set(list).size).toBe(64);
      for (const w of list) expect(w).toMatch(/^[a-z]+$/);
    }
    expect(() => pseudonymFor('A3F2' + '0'.repeat(60))).toThrow(RangeError);
    expect(() => pseudonymFor('abc')).toThrow(RangeError);
    expect(() => pseudonymFor('../' + '0'.repeat(61))).toThrow(RangeError);
  });
});

describe('a conversation through the journalist CLI', () => {
  let newsroom: TestNewsroom;
  let ana: TestJournalist;
  let server: ServerProcess;
  let tokenFile: string;
  let keyFile: string;
  let inbox: string;
  let read: string;
  let codename: string;
  let tipId: string;
  let threadId: string;
  let replyId: string;
  let followupId: string;
  let sessionCookie: string;

  const TIP = 'The "community office" on Elm Street photographs everyone who visits.\nAsk about the lease.';
  const REPLY = 'Thank you. Can you tell us when the photographs started?';
  const FOLLOWUP = 'Since March. The lease is in a cousin\'s name.';

  // The no-JavaScript forms carry the token of the page they were loaded from (helpers/no-js-form.ts).
  const noJs = noJsPoster((p, init) => fetch(`${server.url}${p}`, { ...init, redirect: 'manual' }));
  const form = (path: string, body: string, cookie?: string) =>
    path === '/submit' || path === '/inbox/reply'
      ? noJs(path, body, cookie ? { cookie } : {})
      : fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
          body,
          redirect: 'manual',
        });
  const cli = (...args: string[]) => runCli(['journalist', ...args]);
  const withServer = (...args: string[]) => ['--server', server.url, '--token-file', tokenFile, ...args];
  const fetchInto = (dir: string) => cli('fetch', ...withServer('--out', dir));
  const decrypt = () => cli('decrypt', '--key', keyFile, '--in', inbox, '--out', read);
  const repliesOnServer = async () => {
    const res = await fetch(`${server.url}/api/v1/journalist/replies`, { headers: { authorization: `Bearer ${ana.token}` } });
    return ((await res.json()) as { replies: { id: string }[] }).replies;
  };
  /** Every file under `dir`, as latin1 text, for "never on disk" checks. */
  const allFiles = async (dir: string): Promise<string> => {
    let text = '';
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) text += (await readFile(join(entry.parentPath, entry.name))).toString('latin1');
    }
    return text;
  };

  beforeAll(async () => {
    newsroom = await makeNewsroom();
    ana = await addTestJournalist(newsroom, 'Ana');
    // This suite is about the journalist's side: no wait between a form's page and its post.
    server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0']);
    tokenFile = join(newsroom.root, 'ana.token');
    keyFile = join(newsroom.root, 'ana-secret.asc');
    await writeFile(tokenFile, `${ana.token}\n`, { mode: 0o600 });
    await writeFile(keyFile, ana.armoredPrivateKey, { mode: 0o600 });
    inbox = join(newsroom.root, 'inbox');
    read = join(newsroom.root, 'read');
  });
  afterAll(async () => {
    await server?.stop();
    await newsroom?.cleanup();
  });

  it('a source sends a tip with JavaScript off and gets a codename', async () => {
    const res = await form('/submit', `message=${encodeURIComponent(TIP)}`);
    expect(res.status).toBe(201);
    codename = /<p id="codename"[^>]*>([^<]+)<\/p>/.exec(await res.text())![1]!.trim();
    expect(codename.split(/\s+/)).toHaveLength(12);
  });

  it('fetch pins the newsroom key on first use and keeps each tip\'s conversation and place', async () => {
    const r = await fetchInto(inbox);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('1 new tip(s) fetched');
    expect(r.stdout).toContain('0 new reply copy(ies)');
    expect(r.stdout).toContain(`pinned the newsroom key ${newsroom.fingerprint}`);

    const { newsroomPublicKey } = await readDataDir(newsroom.dataDir);
    const pinned = await readFile(join(inbox, PINNED_KEY_FILE), 'utf8');
    expect(pinned.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([hex.encode(newsroomPublicKey)]);
    const saved = JSON.parse(await readFile(join(inbox, MANIFEST_FILE), 'utf8'));
    expect(saved.manifest.recipients.map((r: { name: string }) => r.name)).toEqual(['Ana']);

    const gpg = (await readdir(inbox)).filter((f) => f.endsWith('.gpg'));
    expect(gpg).toHaveLength(1);
    tipId = gpg[0]!.slice(0, -4);
    const info = JSON.parse(await readFile(join(inbox, `${tipId}.json`), 'utf8'));
    expect(info).toMatchObject({ id: tipId, kind: 'tip', seq: 1, via: 'server' });
    expect(info.threadId).toMatch(/^[0-9a-f]{64}$/);
    threadId = info.threadId;
  });

  it('decrypt files the tip in a folder named by the conversation\'s pseudonym, with the reply key', async () => {
    const r = await decrypt();
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('1 message(s) decrypted');
    const pseudonym = pseudonymFor(threadId);
    expect(await readdir(read)).toEqual([pseudonym]);
    expect((await readdir(join(read, pseudonym))).sort()).toEqual([`001-tip-${tipId}`, THREAD_FILE]);
    const tipFolder = join(read, pseudonym, `001-tip-${tipId}`);
    expect(await readFile(join(tipFolder, 'message.txt'), 'utf8')).toBe(TIP);
    expect(JSON.parse(await readFile(join(tipFolder, 'fields.json'), 'utf8'))).toEqual({});
    const meta = JSON.parse(await readFile(join(tipFolder, 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({ id: tipId, kind: 'tip', seq: 1, threadId, pseudonym, encryptedBy: 'server' });
    const thread = JSON.parse(await readFile(join(read, pseudonym, THREAD_FILE), 'utf8'));
    expect(thread).toMatchObject({ threadId, pseudonym });
    expect(thread.replyPublicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(thread.inbox).toBe(inbox);
    // The codename never reaches the newsroom: not in what was fetched, not in what was decrypted.
    expect(await allFiles(inbox)).not.toContain(codename);
    expect(await allFiles(read)).not.toContain(codename);
    expect((await readdir(read, { recursive: true })).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('reply refuses an empty message, a malformed id and an unknown tip, clearly and without sending', async () => {
    const empty = await cli('reply', ...withServer('--in', read, '--tip', tipId, '--message', '  \n'));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('the reply is empty');
    const both = await cli('reply', ...withServer('--in', read, '--tip', tipId, '--message', 'x', '--message-file', keyFile));
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of --message or --message-file');
    const malformed = await cli('reply', ...withServer('--in', read, '--tip', 'not-an-id', '--message', 'hello'));
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('--tip must be a tip id');
    // An id may start with "-" (base64url): it must still read as the value of --tip.
    const unknownId = '-' + 'A'.repeat(21);
    const unknown = await cli('reply', ...withServer('--in', read, '--tip', unknownId, '--message', 'hello'));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`no decrypted tip with id ${unknownId}`);
    expect(unknown.stderr).toContain('run fetch and decrypt first');
    for (const r of [empty, both, malformed, unknown]) noStackTrace(r.stderr);
    expect(await repliesOnServer()).toEqual([]);
  });

  it('reply refuses a conversation whose first tip was not decrypted', async () => {
    const partialRead = join(newsroom.root, 'read-no-key');
    await cp(read, partialRead, { recursive: true });
    const threadFile = join(partialRead, pseudonymFor(threadId), THREAD_FILE);
    await writeFile(threadFile, JSON.stringify({ ...JSON.parse(await readFile(threadFile, 'utf8')), replyPublicKey: null }));
    const r = await cli('reply', ...withServer('--in', partialRead, '--tip', tipId, '--message', 'hello'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('decrypt the conversation\'s first tip first');
    expect(await repliesOnServer()).toEqual([]);
  });

  it('a journalist replies with the CLI (the folder name works as --tip too)', async () => {
    const messageFile = join(newsroom.root, 'reply.txt');
    await writeFile(messageFile, REPLY);
    const r = await cli('reply', ...withServer('--in', read, '--tip', `001-tip-${tipId}`, '--message-file', messageFile));
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`sent to conversation ${pseudonymFor(threadId)}`);
    replyId = /reply ([A-Za-z0-9_-]{22}) sent/.exec(r.stdout)![1]!;
    expect((await repliesOnServer()).map((x) => x.id)).toEqual([replyId]);
  });

  it('the source logs in with the codename, reads the reply, and follows up', async () => {
    const login = await form('/login', `codename=${encodeURIComponent(codename)}`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain(REPLY);
    sessionCookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
    const followup = await form('/inbox/reply', `message=${encodeURIComponent(FOLLOWUP)}`, sessionCookie);
    expect(followup.status).toBe(201);
  });

  it('fetch + decrypt then show the whole conversation, in order', async () => {
    const f = await fetchInto(inbox);
    expect(f, f.stderr).toMatchObject({ code: 0 });
    expect(f.stdout).toContain('1 new tip(s) fetched');
    expect(f.stdout).toContain('1 already there');
    expect(f.stdout).toContain('1 new reply copy(ies) fetched');
    expect(f.stdout).not.toContain('pinned');
    expect(JSON.parse(await readFile(join(inbox, `${replyId}.json`), 'utf8'))).toMatchObject({ id: replyId, kind: 'reply', threadId, seq: 2 });
    const followupFile = (await readdir(inbox)).find((n) => n.endsWith('.gpg') && n !== `${tipId}.gpg` && n !== `${replyId}.gpg`)!;
    followupId = followupFile.slice(0, -4);
    expect(JSON.parse(await readFile(join(inbox, `${followupId}.json`), 'utf8'))).toMatchObject({ kind: 'followup', threadId, seq: 3 });

    // The newsroom's copy of the reply is plain OpenPGP to the journalist's key.
    const copy = await decryptWithKey(new Uint8Array(await readFile(join(inbox, `${replyId}.gpg`))), ana.privateKey);
    expect(decodeTipDocument(copy)).toMatchObject({ type: 'reply', message: REPLY });
    // It names its author (inside the encryption), as the signed manifest names the token's journalist.
    const anaFingerprint = ana.privateKey.getFingerprint().toLowerCase();
    expect(decodeTipDocument(copy).author).toEqual({ name: 'Ana', fingerprint: anaFingerprint });
    expect(Buffer.from(await readFile(join(inbox, `${replyId}.gpg`))).includes(Buffer.from('Ana'))).toBe(false);

    const d = await decrypt();
    expect(d, d.stderr).toMatchObject({ code: 0 });
    expect(d.stdout).toContain('2 message(s) decrypted');
    expect(d.stdout).toContain('1 already decrypted');
    const threadFolder = join(read, pseudonymFor(threadId));
    expect((await readdir(threadFolder)).sort()).toEqual([`001-tip-${tipId}`, `002-reply-${replyId}`, `003-followup-${followupId}`, THREAD_FILE]);
    const replyFolder = join(threadFolder, `002-reply-${replyId}`);
    expect(await readFile(join(replyFolder, 'message.txt'), 'utf8')).toBe(REPLY);
    expect((await readdir(replyFolder)).sort()).toEqual(['message.txt', 'meta.json']);
    expect(JSON.parse(await readFile(join(replyFolder, 'meta.json'), 'utf8'))).toMatchObject({
      kind: 'reply',
      seq: 2,
      threadId,
      pseudonym: pseudonymFor(threadId),
      author: { name: 'Ana', fingerprint: anaFingerprint },
    });
    expect(d.stdout).toContain(`decrypted reply ${replyId} (by Ana, key ${anaFingerprint})`);
    const followupFolder = join(threadFolder, `003-followup-${followupId}`);
    expect(await readFile(join(followupFolder, 'message.txt'), 'utf8')).toBe(FOLLOWUP);
    expect(JSON.parse(await readFile(join(followupFolder, 'meta.json'), 'utf8'))).toMatchObject({ kind: 'followup', seq: 3, encryptedBy: 'server' });
  });

  it('fetch refuses a server whose manifest names another newsroom key, before downloading anything', async () => {
    const tampered = join(newsroom.root, 'inbox-other-key');
    await mkdir(tampered);
    const other = hex.encode(generateNewsroomKey().publicKey);
    await writeFile(join(tampered, PINNED_KEY_FILE), `${other}\n`);
    const r = await fetchInto(tampered);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('REFUSING');
    expect(r.stderr).toContain('DIFFERENT newsroom key');
    expect(r.stderr).toContain(newsroom.fingerprint);
    noStackTrace(r.stderr);
    expect(await readdir(tampered)).toEqual([PINNED_KEY_FILE]);
    expect(await readFile(join(tampered, PINNED_KEY_FILE), 'utf8')).toBe(`${other}\n`);

    // And a reply through that pin is refused too, with nothing sent.
    const reply = await cli('reply', ...withServer('--in', read, '--tip', tipId, '--message', 'hello', '--inbox', tampered));
    expect(reply.code).toBe(1);
    expect(reply.stderr).toContain('REFUSING');
    expect((await repliesOnServer()).map((x) => x.id)).toEqual([replyId]);
  });

  it('fetch refuses a key list older than one it has seen', async () => {
    const rolledBack = join(newsroom.root, 'inbox-rolled-back');
    await cp(inbox, rolledBack, { recursive: true });
    const saved = JSON.parse(await readFile(join(rolledBack, MANIFEST_FILE), 'utf8'));
    saved.manifest.version = 999;
    await writeFile(join(rolledBack, MANIFEST_FILE), JSON.stringify(saved));
    const r = await fetchInto(rolledBack);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('REFUSING');
    expect(r.stderr).toContain('OLDER');
  });

  it('refuses a manifest whose signature does not check, and a reply with nothing pinned', async () => {
    const signed = (await (await fetch(`${server.url}/api/v1/manifest`)).json()) as { signature: string };
    const sig = base64.decode(signed.signature);
    sig[0]! ^= 1;
    const dir = await mkdtemp(join(tmpdir(), 'tipline-pin-'));
    try {
      await cp(join(inbox, PINNED_KEY_FILE), join(dir, PINNED_KEY_FILE));
      const bad = checkServerManifest(dir, { ...signed, signature: base64.encode(sig) }, { onFirstUse: 'pin' });
      await expect(bad).rejects.toThrow(NewsroomKeyError);
      await expect(bad).rejects.toThrow(/REFUSING: .*not signed by the newsroom key/);
      await rm(join(dir, PINNED_KEY_FILE));
      await expect(checkServerManifest(dir, signed, { onFirstUse: 'refuse' })).rejects.toThrow(/no newsroom key is pinned .*tipline journalist fetch/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('delete-thread removes the conversation: nothing new to fetch, and the codename no longer logs in', async () => {
    const pseudonym = pseudonymFor(threadId);
    const r = await cli('delete-thread', ...withServer('--thread', join(read, pseudonym)));
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`deleted conversation ${pseudonym} (thread ${threadId})`);

    const f = await fetchInto(inbox);
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('0 new tip(s) fetched');
    expect(f.stdout).toContain('0 already there');
    expect(f.stdout).toContain('0 new reply copy(ies) fetched; 0 already there');

    const login = await form('/login', `codename=${encodeURIComponent(codename)}`);
    expect(login.status).toBe(401);
    expect(await login.text()).not.toContain(REPLY);
    // The old session went with the conversation.
    // (Its inbox page now sends it to the login, so there is no token to take: the post is refused for the session first.)
    const stale = await fetch(`${server.url}/inbox/reply`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: sessionCookie }, body: 'message=still%20there%3F', redirect: 'manual' });
    expect(stale.status).toBe(401);

    const again = await cli('delete-thread', ...withServer('--thread', threadId));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already deleted');
    const nonsense = await cli('delete-thread', ...withServer('--thread', join(read, 'no-such-folder')));
    expect(nonsense.code).toBe(1);
    expect(nonsense.stderr).toContain('--thread must be');
    noStackTrace(nonsense.stderr);
  });
});
