/**
 * Re-keying, end to end with stock GnuPG. Three journalists (A, B, C), each with
 * a key made by gpg in a GNUPGHOME of its own, receive two tips (one encrypted
 * in the browser, one by the server from the no-JavaScript form). Then A leaves
 * and B replaces their key with B2. B runs `tipline journalist rekey` with the
 * OLD key: afterwards every tip opens with `gpg --decrypt` under B2 and C, to
 * the exact text, and no longer under A's key or B's old one, while the
 * encrypted data packet stays byte-for-byte what the source sent. The server's
 * refusals are checked from the attacker's side, through `app.request`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPrivateKey, readPublicKey, type PrivateKey, type PublicKey } from '../crypto/envelope.ts';
import { verifyManifest, type Manifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { inspectEncryptedMessage } from '../crypto/packets.ts';
import { RekeyError, rewrapSessionKey, sameEncryptedData, tipRecipientIds } from '../crypto/rekey.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { addJournalist, removeJournalist, replaceJournalistKey } from '../server/admin/newsroom.ts';
import { readDataDir } from '../server/data-dir.ts';
import { makeGpgJournalistKeys, type GpgJournalistKey } from './helpers/gpg.ts';
import { makeNewsroom, ON_POSTGRES, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

type Via = 'browser' | 'server';
type Who = 'A' | 'B' | 'B2' | 'C';

const MESSAGES: Record<Via, string> = {
  browser: 'Die Akten liegen im Keller.\n档案在地下室。\n“Ölçüm” ✓',
  server: 'Rendez-vous mardi, quai nº 3.\n星期二见。\nHasta el martes.',
};

/** B's old key is RSA-4096 (the slow one to make), so the session key comes out of an RSA packet and goes into cv25519 ones. */
const KINDS: Record<Who, 'rsa4096' | 'ed25519'> = { A: 'ed25519', B: 'rsa4096', B2: 'ed25519', C: 'ed25519' };

type GpgKey = GpgJournalistKey;

let workDir: string;
let inbox: string;
let newsroom: TestNewsroom;
let testApp: TestApp;
let server: ServerProcess;
const keys = {} as Record<Who, GpgKey>;
const tokens = {} as Record<'A' | 'B' | 'C', string>;
let tokenFileB: string;
/** Tip id by how it was encrypted. */
const tipIds = new Map<Via, string>();
/** The stored rows before any re-keying. */
let before: TipRow[];

type TipRow = {
  id: string;
  ciphertext: Uint8Array;
  ciphertext_bytes: number;
  received_day: string;
  via: Via;
  kind: string;
  seq: number;
  desk: string | null;
  thread_id: string | null;
  manifest_version: number;
  size_bucket: number;
};

async function tipRows(): Promise<TipRow[]> {
  const rows = await testApp.db.selectFrom('tips').selectAll().orderBy('id').execute();
  return rows.map((r) => ({ ...r, ciphertext: new Uint8Array(r.ciphertext) }));
}

function dataPacketOf(message: Uint8Array): Uint8Array {
  const { dataPacket } = inspectEncryptedMessage(message);
  return message.slice(dataPacket.start, dataPacket.end);
}

function keyPacketsOf(message: Uint8Array): Uint8Array {
  return message.slice(0, inspectEncryptedMessage(message).dataPacket.start);
}

/** Whether `bytes` appear anywhere in the database file or its write-ahead log. */
async function inDatabaseFiles(bytes: Uint8Array): Promise<boolean> {
  const { dbFile } = await readDataDir(newsroom.dataDir);
  const files = await Promise.all([dbFile, `${dbFile}-wal`].map((f) => readFile(f).catch(() => Buffer.alloc(0))));
  return files.some((file) => file.includes(Buffer.from(bytes)));
}

async function latestManifest(): Promise<Manifest> {
  const dir = await readDataDir(newsroom.dataDir);
  const res = await testApp.app.request('/api/v1/manifest');
  return verifyManifest(await res.json(), dir.newsroomPublicKey, { today: utcDay() });
}

/** `gpg --decrypt` of `message` in `who`'s GNUPGHOME, which holds that one secret key and no other. */
async function gpgDecrypt(who: Who, message: Uint8Array, label: string): Promise<Buffer> {
  const file = join(workDir, `${label}-${who}.gpg`);
  await writeFile(file, message);
  return keys[who].home.decrypt(file);
}

async function storedTip(id: string, token = tokens.B): Promise<Uint8Array> {
  const res = await testApp.app.request(`/api/v1/journalist/tips/${id}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

function putCiphertext(id: string, ciphertext: Uint8Array, token = tokens.B): Promise<Response> {
  return Promise.resolve(
    testApp.app.request(`/api/v1/journalist/tips/${id}/ciphertext`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: base64.encode(ciphertext) }),
    }),
  );
}

function rekeyCli(keyFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(['journalist', 'rekey', '--key', keyFile, '--server', server.url, '--token-file', tokenFileB, '--inbox', inbox]);
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tipline-rekey-'));
  inbox = join(workDir, 'inbox');
  Object.assign(keys, await makeGpgJournalistKeys(workDir, KINDS));
  newsroom = await makeNewsroom();
  for (const who of ['A', 'B', 'C'] as const) {
    const { token } = await addJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: `Journalist ${who}`, armoredKey: keys[who].armoredPublic });
    tokens[who] = token;
  }
  tokenFileB = join(workDir, 'token-B');
  await writeFile(tokenFileB, `${tokens.B}\n`, { mode: 0o600 });
  testApp = await openTestApp(newsroom);

  // One tip encrypted the way the browser does, one from the no-JavaScript form.
  const manifestKeys = await Promise.all((await latestManifest()).recipients.map((r) => readPublicKey(r.publicKey)));
  const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: MESSAGES.browser, fields: {} })), manifestKeys);
  const browser = await testApp.app.request('/api/v1/tips', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)) }),
  });
  expect(browser.status).toBe(201);
  const form = await noJsPoster((p, init) => testApp.app.request(p, init))('/submit', new URLSearchParams({ message: MESSAGES.server }).toString());
  expect(form.status).toBe(201);
  for (const row of await tipRows()) tipIds.set(row.via, row.id);

  server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await testApp?.close();
  await Promise.all(Object.values(keys).map((k) => k.home.cleanup()));
  await newsroom?.cleanup();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('tipline journalist rekey', () => {
  it('starts with both tips encrypted to A, B and C, fetched by B', async () => {
    await mkdir(inbox);
    const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFileB, '--out', inbox]);
    expect(fetched, fetched.stderr).toMatchObject({ code: 0 });
    expect(fetched.stdout).toContain('2 new tip(s) fetched');
    before = await tipRows();
    expect(before.map((r) => r.via).sort()).toEqual(['browser', 'server']);
    for (const row of before) {
      expect(inspectEncryptedMessage(row.ciphertext).recipientKeyIds.sort()).toEqual([keys.A.keyId, keys.B.keyId, keys.C.keyId].sort());
      expect(decodeTipDocument(new Uint8Array(await gpgDecrypt('A', row.ciphertext, `before-${row.via}`))).message).toBe(MESSAGES[row.via]);
      // So the check after re-keying, that they are gone from the files, means something.
      if (!ON_POSTGRES) expect(await inDatabaseFiles(keyPacketsOf(row.ciphertext))).toBe(true); // SQLite's files; PostgreSQL has no secure delete
    }
  });

  it("refuses A's token once A is removed (and B's key is replaced by B2)", async () => {
    await replaceJournalistKey({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist B', armoredKey: keys.B2.armoredPublic });
    await removeJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: 'Journalist A' });
    const list = await testApp.app.request('/api/v1/journalist/tips', { headers: { authorization: `Bearer ${tokens.A}` } });
    expect(list.status).toBe(401);
    const put = await putCiphertext(tipIds.get('browser')!, before[0]!.ciphertext, tokens.A);
    expect(put.status).toBe(401);
    // Nothing re-keyed yet: A's key still opens the stored tips. That is what rekey is for.
    expect(await tipRows()).toEqual(before);
  });

  it('skips every tip, with a note, when run with B2: the new key opens none of them yet', async () => {
    const r = await rekeyCli(keys.B2.secretFile);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('0 tip(s) re-keyed; 0 already current; 2 not openable with this key; 0 failed.');
    expect(r.stdout).toContain('is not encrypted to this key');
    expect(await tipRows()).toEqual(before);
  });

  it("re-keys every tip to B2 and C with B's old key, changing only the key packets", async () => {
    const r = await rekeyCli(keys.B.secretFile);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('2 tip(s) re-keyed; 0 already current; 0 not openable with this key; 0 failed.');
    expect(r.stdout).toContain(`2 copy(ies) in ${inbox} updated`);
    const manifest = await latestManifest();
    const after = await tipRows();
    expect(after.map((row) => row.id)).toEqual(before.map((row) => row.id));
    for (const [i, row] of after.entries()) {
      const old = before[i]!;
      expect(inspectEncryptedMessage(row.ciphertext).recipientKeyIds.sort()).toEqual([keys.B2.keyId, keys.C.keyId].sort());
      expect(Buffer.from(dataPacketOf(row.ciphertext)).equals(dataPacketOf(old.ciphertext))).toBe(true);
      expect(sameEncryptedData(old.ciphertext, row.ciphertext)).toBe(true);
      const { ciphertext: _new, manifest_version, size_bucket: _bucket, ciphertext_bytes, ...kept } = row;
      const { ciphertext: _old, manifest_version: _oldVersion, size_bucket: _oldBucket, ciphertext_bytes: _oldBytes, ...keptBefore } = old;
      expect(kept).toEqual(keptBefore);
      expect(manifest_version).toBe(manifest.version);
      // The stored length follows the new key packets (the list of tips shows it).
      expect(ciphertext_bytes).toBe(row.ciphertext.length);
      // The inbox copy is the server's new one, so it opens with the new keys too.
      expect((await readFile(join(inbox, `${row.id}.gpg`))).equals(row.ciphertext)).toBe(true);
    }
  });

  it("leaves the old key packets nowhere in the database files (they still open the tip with A's key)", async () => {
    if (!ON_POSTGRES) for (const row of before) expect(await inDatabaseFiles(keyPacketsOf(row.ciphertext))).toBe(false);
  });

  describe.each(['browser', 'server'] as const)('the %s-encrypted tip, fetched again', (via) => {
    let message: Uint8Array;
    beforeAll(async () => {
      message = await storedTip(tipIds.get(via)!);
    });

    it.each(['B2', 'C'] as const)('opens with gpg under %s alone, to the exact text', async (who) => {
      const output = await gpgDecrypt(who, message, `after-${via}`);
      expect(decodeTipDocument(new Uint8Array(output)).message).toBe(MESSAGES[via]);
    });

    it.each(['A', 'B'] as const)("no longer opens with %s's key", async (who) => {
      await expect(gpgDecrypt(who, message, `after-${via}`)).rejects.toThrow();
    });

    it('keeps the data packet the source sent, byte for byte', () => {
      const old = before.find((row) => row.via === via)!;
      expect(Buffer.from(dataPacketOf(message)).equals(dataPacketOf(old.ciphertext))).toBe(true);
    });
  });

  it('decrypts the updated inbox with B2 through the CLI', async () => {
    const r = await runCli(['journalist', 'decrypt', '--key', keys.B2.secretFile, '--in', inbox, '--out', join(workDir, 'read')]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('2 message(s) decrypted');
  });

  it('changes nothing when run again: every tip is already current', async () => {
    const rowsBefore = await tipRows();
    const r = await rekeyCli(keys.B.secretFile);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('0 tip(s) re-keyed; 2 already current; 0 not openable with this key; 0 failed.');
    expect(await tipRows()).toEqual(rowsBefore);
  });

  describe('the server refuses anything but new key packets to exactly the current keys', () => {
    let b2: PrivateKey;
    let rowsBefore: TipRow[];
    const id = () => tipIds.get('browser')!;

    beforeAll(async () => {
      b2 = await readPrivateKey(await readFile(keys.B2.secretFile, 'utf8'));
      rowsBefore = await tipRows();
    });

    async function expectRefused(res: Response, status: number, code: string): Promise<void> {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
      expect(await tipRows()).toEqual(rowsBefore);
    }

    it('refuses a different data packet, even to the right keys (data-changed)', async () => {
      const fresh = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'forged', fields: {} })), [keys.B2.publicKey, keys.C.publicKey]);
      await expectRefused(await putCiphertext(id(), fresh), 422, 'data-changed');
    });

    it('refuses key packets that add a key outside the desk (wrong-recipients)', async () => {
      const stored = await storedTip(id());
      const widened = await rewrapSessionKey(stored, b2, [keys.B2.publicKey, keys.C.publicKey, keys.A.publicKey]);
      // Only the key packets differ: the refusal is about who they name.
      expect(sameEncryptedData(stored, widened)).toBe(true);
      await expectRefused(await putCiphertext(id(), widened), 422, 'wrong-recipients');
    });

    it('refuses key packets that drop a current journalist (wrong-recipients)', async () => {
      const stored = await storedTip(id());
      const narrowed = await rewrapSessionKey(stored, b2, [keys.B2.publicKey]);
      expect(sameEncryptedData(stored, narrowed)).toBe(true);
      await expectRefused(await putCiphertext(id(), narrowed), 422, 'wrong-recipients');
    });

    it('refuses a body that is not an encrypted message (not-encrypted)', async () => {
      await expectRefused(await putCiphertext(id(), randomBytes(600)), 422, 'not-encrypted');
    });

    it('answers 404 for a tip that does not exist', async () => {
      await expectRefused(await putCiphertext('A'.repeat(22), await storedTip(id())), 404, 'not-found');
    });

    it('takes a re-key to the keys it already has, which keeps every packet as stored', async () => {
      const stored = await storedTip(id());
      const again = await rewrapSessionKey(stored, b2, [keys.C.publicKey, keys.B2.publicKey]);
      // Keys that stay keep their packets (crypto/key-packet-swap.ts): nothing joins, so nothing changes.
      expect(Buffer.from(again).equals(stored)).toBe(true);
      const res = await putCiphertext(id(), again);
      expect(res.status).toBe(200);
      expect(Buffer.from(await storedTip(id())).equals(again)).toBe(true);
      expect(decodeTipDocument(new Uint8Array(await gpgDecrypt('C', again, 'again'))).message).toBe(MESSAGES.browser);
    });
  });
});

describe('crypto/rekey.ts', () => {
  const makeKey = (name: string) =>
    openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name }], format: 'object' }) as Promise<{ privateKey: PrivateKey; publicKey: PublicKey }>;

  it('refuses a key the tip is not encrypted to (not-for-this-key)', async () => {
    const [a, b] = await Promise.all([makeKey('a'), makeKey('b')]);
    const message = await encryptToKeys(new Uint8Array(100), [a.publicKey]);
    await expect(rewrapSessionKey(message, b.privateKey, [b.publicKey])).rejects.toMatchObject({ name: 'RekeyError', code: 'not-for-this-key' });
  });

  it('refuses to wrap a session key that does not fit the data (a key packet moved from another tip)', async () => {
    const [a, b] = await Promise.all([makeKey('a'), makeKey('b')]);
    const one = await encryptToKeys(new Uint8Array(100).fill(1), [a.publicKey]);
    const other = await encryptToKeys(new Uint8Array(100).fill(2), [a.publicKey]);
    const spliced = new Uint8Array([...one.subarray(0, inspectEncryptedMessage(one).dataPacket.start), ...other.subarray(inspectEncryptedMessage(other).dataPacket.start)]);
    // b joins, so the session key is opened and checked before it is wrapped for b.
    const error = await rewrapSessionKey(spliced, a.privateKey, [a.publicKey, b.publicKey]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RekeyError);
    expect((error as RekeyError).code).toBe('wrong-session-key');
  });

  it("sends a tip to its desk's journalists, or to everyone when its desk is gone or unknown", () => {
    const manifest = {
      recipients: [{ id: 'ana' }, { id: 'bo' }, { id: 'cy' }],
      desks: [
        { id: 'news', name: 'News', recipients: ['ana', 'cy'] },
        { id: 'sport', name: 'Sport', recipients: ['bo', 'cy'] },
      ],
    } as unknown as Manifest;
    expect(tipRecipientIds(manifest, 'sport')).toEqual(['bo', 'cy']);
    expect(tipRecipientIds(manifest, 'closed-desk')).toEqual(['ana', 'bo', 'cy']);
    expect(tipRecipientIds(manifest, null)).toEqual(['ana', 'bo', 'cy']);
  });
});
