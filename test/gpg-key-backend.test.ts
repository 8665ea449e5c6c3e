/**
 * `--gpg`: decrypt and rekey with a journalist key that lives only in a
 * throwaway GNUPGHOME, passphrase-protected and never exported. gpg-agent asks
 * a pinentry stub for the passphrase (once, then it is cached), and gpg itself
 * is wrapped so the test keeps a copy of everything it was handed: only key
 * packets and the data packet's first 19 bytes, never any content. Tips not
 * for this key, altered tips and a wrong passphrase fail cleanly, leaving
 * nothing behind; rekey --gpg re-wraps a stored tip for the journalist's new
 * key without changing its encrypted data.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes, randomId, utf8 } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { verifyManifest } from '../crypto/manifest.ts';
import { inspectEncryptedMessage } from '../crypto/packets.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, type AttachmentRef } from '../crypto/tip-document.ts';
import { addJournalist, replaceJournalistKey } from '../server/admin/newsroom.ts';
import { readDataDir } from '../server/data-dir.ts';
import { readDecryptedMessages } from './helpers/browser.ts';
import { makeAgentKey, type AgentKey } from './helpers/gpg-agent-key.ts';
import { makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

const PASSPHRASE = 'correct horse 7';
let root: string;
let g: AgentKey;
let outsider: openpgp.PrivateKey;
/** gpg on PATH is a wrapper that saves a copy of each file gpg is handed, into this folder, before gpg sees it. */
let seenByGpg: string;
let wrapperPath: string;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const gpgEnv = () => ({ PATH: `${wrapperPath}:${process.env.PATH}` });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-gpg-backend-'));
  g = await makeAgentKey(root, PASSPHRASE);
  outsider = (await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'O', email: 'o@example.org' }], format: 'object' })).privateKey;
  seenByGpg = join(root, 'seen-by-gpg');
  wrapperPath = join(root, 'bin');
  await mkdir(seenByGpg);
  await mkdir(wrapperPath);
  // --decrypt-files reads file names on stdin: copy each file as its name goes by, then hand gpg the name.
  await writeFile(
    join(wrapperPath, 'gpg'),
    `#!/bin/sh\ncase " $* " in\n  *" --decrypt-files "*) n=0; while IFS= read -r f; do n=$((n+1)); cp "$f" '${seenByGpg}'/$$-$n; echo "$f"; done | /usr/bin/gpg "$@";;\n  *) exec /usr/bin/gpg "$@";;\nesac\n`,
  );
  await chmod(join(wrapperPath, 'gpg'), 0o755);
}, 120_000);

afterAll(async () => {
  await g?.forget();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A fetched message, as `fetch` leaves it: `<id>.gpg` and `<id>.json`. */
async function writeFetched(inbox: string, ciphertext: Uint8Array, attachments: { id: string; size: number }[] = []): Promise<string> {
  const id = randomId();
  await writeFile(join(inbox, `${id}.gpg`), ciphertext);
  const summary = { id, receivedDay: '2026-11-28', via: 'browser', size: 4096, manifestVersion: 2, threadId: sha256(utf8.encode(id)), kind: 'tip', seq: 1, attachments };
  await writeFile(join(inbox, `${id}.json`), JSON.stringify(summary));
  return id;
}

async function tipTo(keys: openpgp.PublicKey[], message: string, attachments: AttachmentRef[] = []): Promise<Uint8Array> {
  return encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message, fields: {}, attachments })), keys as never);
}

describe('decrypt --gpg (key in gpg-agent, never exported)', () => {
  let inbox: string;
  const ids = {} as Record<'mine' | 'notMine' | 'altered', string>;
  const file = randomBytes(70_000);
  let fileBlob: Uint8Array;
  const dataPackets: Buffer[] = [];

  beforeAll(async () => {
    inbox = join(root, 'inbox');
    await mkdir(inbox);
    fileBlob = new Uint8Array(await new Response(await encryptFileStream(new Blob([file as Uint8Array<ArrayBuffer>]).stream(), [g.publicKey])).arrayBuffer());
    const blobId = randomId();
    await writeFile(join(inbox, `${blobId}.gpg`), fileBlob);
    const ref: AttachmentRef = { blobId, name: 'ledger.bin', type: 'application/octet-stream', size: file.length, sha256: sha256(file) };
    const mine = await tipTo([g.publicKey], 'Die Akten liegen im Keller. 档案在地下室。', [ref]);
    ids.mine = await writeFetched(inbox, mine, [{ id: blobId, size: fileBlob.length }]);
    ids.notMine = await writeFetched(inbox, await tipTo([outsider.toPublic()], 'for someone else'));
    const altered = await tipTo([g.publicKey], 'this one was changed on the server');
    altered[altered.length - 30]! ^= 1;
    ids.altered = await writeFetched(inbox, altered);
    for (const m of [mine, altered, fileBlob]) {
      const { dataPacket } = inspectEncryptedMessage(m);
      dataPackets.push(Buffer.from(m.subarray(dataPacket.start, dataPacket.end)));
    }
  });

  it('opens the tip and its attachment; pinentry is asked once; other tips fail cleanly', async () => {
    const out = join(root, 'read');
    const r = await runCli(['journalist', 'decrypt', '--gpg', '--gpg-homedir', g.home, '--in', inbox, '--out', out], gpgEnv());
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('1 message(s) decrypted');
    expect(r.stdout).toContain('2 failed');
    expect(r.stdout).toContain(`could not decrypt ${ids.notMine}: this message is not encrypted to your key`);
    expect(r.stdout).toContain(`could not decrypt ${ids.altered}: the ciphertext was altered (integrity check failed)`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const messages = await readDecryptedMessages(out);
    expect(messages.map((m) => m.message)).toEqual(['Die Akten liegen im Keller. 档案在地下室。']);
    const saved = await readFile(join(messages[0]!.folder, 'attachments', 'ledger.bin'));
    expect(sha256(saved)).toBe(sha256(file));
    // Three session keys (tip, attachment, altered tip), one passphrase prompt: the agent caches it.
    expect(await g.pinentryAsked()).toBe(1);
    // Nothing half-written: no .partial folder or file anywhere.
    expect((await readdir(out, { recursive: true })).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('hands gpg only key packets and the 19-byte start of each data packet, never content', async () => {
    const seen = await Promise.all((await readdir(seenByGpg)).map((n) => readFile(join(seenByGpg, n))));
    // The tip, its attachment and the altered tip go to gpg; the tip for someone else never does (no key of ours in it).
    expect(seen.length).toBe(3);
    for (const copy of seen) {
      const dataStart = copy.length - 21;
      // A new-format data packet of exactly 19 bytes: version 1 and the 18-byte quick-check prefix.
      expect([...copy.subarray(dataStart, dataStart + 3)]).toEqual([0xd2, 19, 1]);
      const prefix = copy.subarray(dataStart + 3);
      const from = dataPackets.find((d) => d.includes(prefix));
      expect(from, 'the prefix comes from one of the real data packets').toBeDefined();
      // Nothing of the real data beyond its first 19 body bytes: its 20th-to-60th bytes appear nowhere in the copy.
      expect(copy.includes(from!.subarray(from!.length - 40))).toBe(false);
    }
  });

  it('fails every message, with nothing written and no stack trace, when the passphrase is wrong', async () => {
    await g.setPinentryAnswer('not the passphrase');
    const out = join(root, 'read-wrong');
    const r = await runCli(['journalist', 'decrypt', '--gpg', '--gpg-homedir', g.home, '--in', inbox, '--out', out], gpgEnv());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('0 message(s) decrypted');
    expect(r.stdout).toMatch(/gpg could not unwrap the session key/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await readDecryptedMessages(out)).toEqual([]);
    await g.setPinentryAnswer(PASSPHRASE);
  }, 60_000);

  it('refuses --gpg with --key, --passphrase-file with --gpg, and a keyring with no secret key', async () => {
    const both = await runCli(['journalist', 'decrypt', '--gpg', '--key', 'x.asc', '--in', inbox, '--out', join(root, 'x')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of --key FILE or --gpg');
    const pass = await runCli(['journalist', 'decrypt', '--gpg', '--passphrase-file', 'p', '--in', inbox, '--out', join(root, 'x')]);
    expect(pass.code).toBe(2);
    expect(pass.stderr).toContain('gpg-agent asks for the passphrase or PIN itself');
    const empty = join(root, 'empty-gnupg');
    await mkdir(empty, { mode: 0o700 });
    const none = await runCli(['journalist', 'decrypt', '--gpg', '--gpg-homedir', empty, '--in', inbox, '--out', join(root, 'x')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('gpg has no secret keys');
    expect(none.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('rekey --gpg', () => {
  let newsroom: TestNewsroom;
  let testApp: TestApp;
  let server: ServerProcess;
  let tokenFile: string;
  let g2: { armored: string; file: string; publicKey: openpgp.PublicKey };
  let before: Uint8Array;
  let tipId: string;

  beforeAll(async () => {
    newsroom = await makeNewsroom();
    const { token } = await addJournalist({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist G', armoredKey: g.armoredPublic });
    tokenFile = join(root, 'token-G');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    testApp = await openTestApp(newsroom);
    const dir = await readDataDir(newsroom.dataDir);
    const manifest = verifyManifest(await (await testApp.app.request('/api/v1/manifest')).json(), dir.newsroomPublicKey, { today: utcDay() });
    const keys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
    const res = await testApp.app.request('/api/v1/tips', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: base64.encode(await tipTo(keys as never, 'Rendez-vous mardi.')), lookupSecret: base64.encode(randomBytes(32)) }),
    });
    expect(res.status).toBe(201);
    const row = await testApp.db.selectFrom('tips').select(['id', 'ciphertext']).executeTakeFirstOrThrow();
    tipId = row.id;
    before = new Uint8Array(row.ciphertext);
    const pair = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'G2', email: 'g2@example.org' }], format: 'armored' });
    g2 = { armored: pair.privateKey, file: join(root, 'g2-secret.asc'), publicKey: await openpgp.readKey({ armoredKey: pair.publicKey }) };
    await writeFile(g2.file, pair.privateKey, { mode: 0o600 });
    server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await testApp?.close();
    await newsroom?.cleanup();
  });

  it("re-wraps the stored tip for G's new key with the old key still in gpg, leaving the data packet as it was", async () => {
    const inbox = join(root, 'rekey-inbox');
    const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', inbox]);
    expect(fetched, fetched.stderr).toMatchObject({ code: 0 });
    await replaceJournalistKey({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist G', armoredKey: g2.publicKey.armor() });
    const r = await runCli(['journalist', 'rekey', '--gpg', '--gpg-homedir', g.home, '--server', server.url, '--token-file', tokenFile, '--inbox', inbox], gpgEnv());
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('1 tip(s) re-keyed; 0 already current; 0 not openable with this key; 0 failed.');
    const after = new Uint8Array((await testApp.db.selectFrom('tips').select('ciphertext').where('id', '=', tipId).executeTakeFirstOrThrow()).ciphertext);
    const g2KeyId = (await g2.publicKey.getEncryptionKey()).getKeyID().toHex();
    expect(inspectEncryptedMessage(after).recipientKeyIds).toEqual([g2KeyId]);
    const data = (m: Uint8Array) => m.subarray(inspectEncryptedMessage(m).dataPacket.start);
    expect(Buffer.from(data(after)).equals(data(before))).toBe(true);
    // G's new key, as a file, now opens it; the old one in gpg no longer does.
    const out = join(root, 'rekey-read');
    const read = await runCli(['journalist', 'decrypt', '--key', g2.file, '--in', inbox, '--out', out]);
    expect(read, read.stderr).toMatchObject({ code: 0 });
    expect((await readDecryptedMessages(out)).map((m) => m.message)).toEqual(['Rendez-vous mardi.']);
    const old = await runCli(['journalist', 'decrypt', '--gpg', '--gpg-homedir', g.home, '--in', inbox, '--out', join(root, 'rekey-read-old')], gpgEnv());
    expect(old.stdout).toContain('this message is not encrypted to your key');
  }, 120_000);
});
