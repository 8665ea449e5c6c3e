/**
 * Whom `rekey` and `reply` encrypt to comes from signed or encrypted data,
 * never from the server's labels. A compromised server edits its own
 * database the way an attacker would, against a journalist (Ana) who is in
 * both desks and so can open everything:
 *
 * - it relabels an Investigations tip as the whole newsroom's, and an older
 *   Investigations tip (sent before tips recorded their desk) as
 *   Community's, hoping an honest `rekey` wraps them for Cy (Community only);
 * - it lists an Investigations attachment under a Community tip;
 * - it hides the newest key list (a frozen manifest, which still names Bo
 *   after Bo was removed);
 * - after a newsroom-key rotation, it serves a key list signed with the
 *   retired key.
 *
 * The real CLI must leave each of these as it is, say why, and exit non-zero,
 * while honest items are re-keyed and the key list it used is printed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, hex, randomBytes } from '../crypto/bytes.ts';
import { threadIdOf } from '../crypto/codename.ts';
import { decryptWithKey, encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { signManifest, type SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { inspectMessageHead } from '../crypto/packets.ts';
import { decodeTipDocument, encodeTipDocument, type TipDocument } from '../crypto/tip-document.ts';
import { addJournalist, removeJournalist } from '../server/admin/newsroom.ts';
import { rotateSigningKey } from '../server/admin/signing-key.ts';
import { readSigningKeyFile } from '../server/signing-key-file.ts';
import { makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

type Who = 'Ana' | 'Bo' | 'Cy' | 'Dee';
const DESKS: Record<Who, string[]> = { Ana: ['Investigations', 'Community'], Bo: ['Investigations'], Cy: ['Community'], Dee: ['Investigations'] };

let newsroom: TestNewsroom;
let t: TestApp;
let server: ServerProcess;
const secret = {} as Record<Who, openpgp.PrivateKey>;
let anaToken = '';
let files: { token: string; key: string; inbox: string; read: string };

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The keys of a desk ('investigations', 'community', or null for everyone) in the manifest the server serves now. */
async function deskKeys(desk: string | null): Promise<{ keys: openpgp.PublicKey[]; version: number }> {
  const { manifest } = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
  const ids = desk ? manifest.desks.find((d) => d.id === desk)!.recipients : manifest.recipients.map((r) => r.id);
  return { keys: await Promise.all(manifest.recipients.filter((r) => ids.includes(r.id)).map((r) => readPublicKey(r.publicKey))), version: manifest.version };
}

/** A first tip, as the page sends it now (`bound`) or before tips recorded their desk. */
async function sendTip(message: string, desk: string, o: { bound: boolean; attachments?: string[] }): Promise<{ id: string; threadId: string }> {
  const lookupSecret = randomBytes(32);
  const threadId = threadIdOf(lookupSecret);
  const { keys, version } = await deskKeys(desk);
  const doc: TipDocument = {
    type: 'tip',
    message,
    fields: {},
    replyPublicKey: hex.encode(randomBytes(32)),
    ...(o.bound ? { threadId, encryptedBy: 'browser' as const, deskId: desk, keyListVersion: version } : {}),
    ...(o.attachments ? { attachments: o.attachments.map((blobId) => ({ blobId, name: 'ledger.pdf', type: 'application/pdf', size: 5000, sha256: '00'.repeat(32) })) } : {}),
  };
  const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument(doc)), keys);
  const res = await t.app.request('/api/v1/tips', json({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(lookupSecret), desk, attachments: o.attachments }));
  expect(res.status, await res.clone().text()).toBe(201);
  const row = await t.db.selectFrom('tips').select('id').where('thread_id', '=', threadId).executeTakeFirstOrThrow();
  return { id: row.id, threadId };
}

async function upload(desk: string): Promise<string> {
  const { keys } = await deskKeys(desk);
  const file = new Uint8Array(await new Response(await encryptFileStream(new Blob([randomBytes(5000) as Uint8Array<ArrayBuffer>]).stream(), keys)).arrayBuffer());
  const created = await t.app.request('/api/v1/uploads', json({ bytes: file.length, desk }));
  expect(created.status).toBe(201);
  const id = ((await created.json()) as { id: string }).id;
  expect((await t.app.request(`/api/v1/uploads/${id}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: file })).status).toBe(200);
  expect((await t.app.request(`/api/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(200);
  return id;
}

const storedTip = async (id: string) => new Uint8Array((await t.db.selectFrom('tips').select('ciphertext').where('id', '=', id).executeTakeFirstOrThrow()).ciphertext);
/** An attachment's key packets, as the journalist API gives them to Ana. */
const storedHead = async (id: string) => {
  const res = await t.app.request(`/api/v1/journalist/blobs/${id}/head`, { headers: { authorization: `Bearer ${anaToken}` } });
  expect(res.status).toBe(200);
  return inspectMessageHead(new Uint8Array(await res.arrayBuffer()));
};
const opens = async (who: Who, ciphertext: Uint8Array) => decryptWithKey(ciphertext, secret[who]).then(() => true, () => false);

const rekey = (...extra: string[]) => runCli(['journalist', 'rekey', '--key', files.key, '--server', server.url, '--token-file', files.token, '--inbox', files.inbox, ...extra]);
const fetchInbox = () => runCli(['journalist', 'fetch', '--server', server.url, '--token-file', files.token, '--out', files.inbox]);

const tips = {} as Record<'relabelled' | 'unbound' | 'honest' | 'withFile' | 'community', { id: string; threadId: string }>;
let fileId = '';

beforeAll(async () => {
  newsroom = await makeNewsroom();
  for (const who of ['Ana', 'Bo', 'Cy', 'Dee'] as const) {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: who, email: `${who.toLowerCase()}@example.org` }], format: 'armored' });
    secret[who] = await openpgp.readPrivateKey({ armoredKey: privateKey });
    const { token } = await addJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: who, armoredKey: publicKey, desks: DESKS[who] });
    if (who === 'Ana') {
      anaToken = token;
      files = { token: join(newsroom.root, 'ana.token'), key: join(newsroom.root, 'ana.asc'), inbox: join(newsroom.root, 'inbox'), read: join(newsroom.root, 'read') };
      await writeFile(files.token, `${token}\n`, { mode: 0o600 });
      await writeFile(files.key, privateKey, { mode: 0o600 });
    }
  }
  t = await openTestApp(newsroom);
  server = await startServerProcess(newsroom.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
  const fetched = await fetchInbox();
  expect(fetched, fetched.stderr).toMatchObject({ code: 0 });

  tips.relabelled = await sendTip('Investigations: the ledger is in the basement.', 'investigations', { bound: true });
  tips.unbound = await sendTip('Investigations, from an older page.', 'investigations', { bound: false });
  tips.honest = await sendTip('Investigations: names of the officers.', 'investigations', { bound: true });
  fileId = await upload('investigations');
  tips.withFile = await sendTip('Investigations: the ledger, attached.', 'investigations', { bound: true, attachments: [fileId] });
  tips.community = await sendTip('Community: the meeting moved.', 'community', { bound: true });

  // The compromised server relabels, and moves the attachment under a Community tip.
  for (const [tip, desk] of [[tips.relabelled, null], [tips.unbound, 'community']] as const) {
    await t.db.updateTable('tips').set({ desk }).where('id', '=', tip.id).execute();
    await t.db.updateTable('threads').set({ desk }).where('id', '=', tip.threadId).execute();
  }
  await t.db.updateTable('uploads').set({ tip_id: tips.community.id }).where('id', '=', fileId).execute();

  // Dee leaves: every Investigations item must be re-keyed, so rekey has something to do.
  await removeJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: 'Dee' });
  const again = await fetchInbox();
  expect(again.code, again.stderr + again.stdout).toBe(0);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await t?.close();
  await newsroom?.cleanup();
});

describe('rekey believes each tip over the server', () => {
  let first: Awaited<ReturnType<typeof rekey>>;
  const before = {} as Record<string, Uint8Array>;

  beforeAll(async () => {
    before.relabelled = await storedTip(tips.relabelled.id);
    before.unbound = await storedTip(tips.unbound.id);
    before.fileKeys = (await storedHead(fileId)).keyPackets.slice();
    first = await rekey();
  }, 120_000);

  it('prints the key list and who is in each desk before changing anything', () => {
    expect(first.stdout).toMatch(/re-keying to the newsroom's key list version \d+, signed \d{4}-\d\d-\d\d by [0-9A-F ]+, valid until/);
    expect(first.stdout).toMatch(/desk Investigations \(investigations\): (Ana|Bo) \([0-9A-F]{40}\), (Ana|Bo) \([0-9A-F]{40}\)\n/);
    expect(first.stdout).toMatch(/desk Community \(community\): (Ana|Cy) \([0-9A-F]{40}\), (Ana|Cy) \([0-9A-F]{40}\)\n/);
    expect(first.stdout).not.toContain('Dee');
  });

  it('re-keys the honest tips to their desk, and says to whom', async () => {
    expect(first.stdout).toContain(`re-keyed tip ${tips.honest.id} for desk Investigations (investigations): `);
    for (const id of [tips.honest.id, tips.withFile.id]) {
      const stored = await storedTip(id);
      expect(await opens('Bo', stored)).toBe(true);
      expect(await opens('Dee', stored)).toBe(false);
      expect(await opens('Cy', stored)).toBe(false);
    }
  });

  it('leaves a tip the server relabelled as it is: the tip says Investigations', async () => {
    expect(first.stdout).toContain(`FAILED to re-key tip ${tips.relabelled.id}: the server lists it under the whole newsroom, but it was written for desk Investigations (investigations); it was left as it is`);
    const stored = await storedTip(tips.relabelled.id);
    expect(Buffer.from(stored).equals(Buffer.from(before.relabelled!))).toBe(true);
    expect(await opens('Cy', stored)).toBe(false);
  });

  it('adds no reader to a tip that does not say its desk', async () => {
    expect(first.stdout).toContain(`FAILED to re-key tip ${tips.unbound.id}: re-keying it for desk Community (community) would let Cy read it, who can't now`);
    expect(first.stdout).toContain('--allow-new-recipients');
    const stored = await storedTip(tips.unbound.id);
    expect(Buffer.from(stored).equals(Buffer.from(before.unbound!))).toBe(true);
    expect(await opens('Cy', stored)).toBe(false);
  });

  it('leaves an attachment the server moved under a tip that does not name it', async () => {
    expect(first.stdout).toContain(`FAILED to re-key attachment ${fileId}: the server lists it with tip ${tips.community.id}, but that tip does not name it`);
    expect(Buffer.from((await storedHead(fileId)).keyPackets).equals(Buffer.from(before.fileKeys!))).toBe(true);
  });

  it('exits non-zero with one line that says why, and no stack trace', () => {
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/item\(s\) could not be re-keyed/);
    expect(first.stdout + first.stderr).not.toMatch(/^\s+at /m);
  });

  it('with --allow-new-recipients believes the label of a tip that does not say its desk, and never of one that does', async () => {
    const r = await rekey('--allow-new-recipients');
    expect(r.stdout).toContain(`re-keyed tip ${tips.unbound.id} for desk Community (community): `);
    expect(await opens('Cy', await storedTip(tips.unbound.id))).toBe(true);
    expect(r.stdout).toContain(`FAILED to re-key tip ${tips.relabelled.id}: the server lists it under the whole newsroom`);
    expect(await opens('Cy', await storedTip(tips.relabelled.id))).toBe(false);
  }, 120_000);
});

describe('reply takes the copy\'s desk from the conversation', () => {
  const reply = (tipId: string, ...extra: string[]) =>
    runCli(['journalist', 'reply', '--server', server.url, '--token-file', files.token, '--in', files.read, '--tip', tipId, '--message', 'Thank you.', ...extra]);

  beforeAll(async () => {
    await fetchInbox();
    // decrypt refuses the moved attachment, so it exits non-zero; the conversations are filed all the same.
    await runCli(['journalist', 'decrypt', '--key', files.key, '--in', files.inbox, '--out', files.read]);
  }, 120_000);

  it('says whom the copy is encrypted to', async () => {
    const r = await reply(tips.honest.id);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/The newsroom's copy is encrypted to desk Investigations \(investigations\) in key list version \d+: (Ana|Bo) \([0-9A-F]{40}\), (Ana|Bo) \([0-9A-F]{40}\)\./);
    const copy = await t.db.selectFrom('replies').select('copy').where('thread_id', '=', tips.honest.threadId).executeTakeFirstOrThrow();
    expect(await opens('Cy', new Uint8Array(copy.copy))).toBe(false);
    const doc = decodeTipDocument(await decryptWithKey(new Uint8Array(copy.copy), secret.Bo));
    expect(doc).toMatchObject({ type: 'reply', threadId: tips.honest.threadId, deskId: 'investigations' });
  }, 60_000);

  it('refuses a conversation the server relabelled, and sends nothing', async () => {
    const r = await reply(tips.relabelled.id);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('REFUSING: the server lists conversation');
    expect(r.stderr).toContain('but its messages were written for desk Investigations');
    expect(await t.db.selectFrom('replies').select('id').where('thread_id', '=', tips.relabelled.threadId).execute()).toEqual([]);
  }, 60_000);
});

describe('a frozen key list', () => {
  let hidden: { version: number; body: string; created_at: string };
  let late: { id: string; threadId: string };

  beforeAll(async () => {
    // Bo leaves; a source then writes to Investigations under the new key list, which no longer has Bo.
    await removeJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: 'Bo' });
    late = await sendTip('Investigations: after Bo left.', 'investigations', { bound: true });
    // The server hides the newest key list and serves the one before, which still names Bo.
    hidden = await t.db.selectFrom('manifests').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirstOrThrow();
    await t.db.deleteFrom('manifests').where('version', '=', hidden.version).execute();
  }, 60_000);

  it('rekey stops before wrapping a tip for a journalist removed since', async () => {
    const r = await rekey('--allow-new-recipients');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`REFUSING: tip ${late.id} was encrypted under the newsroom's key list version ${hidden.version}, but the server offers version ${hidden.version - 1}`);
    expect(await opens('Bo', await storedTip(late.id))).toBe(false);
  }, 120_000);

  it('reply refuses a conversation written under a newer key list than the server offers', async () => {
    await fetchInbox();
    await runCli(['journalist', 'decrypt', '--key', files.key, '--in', files.inbox, '--out', files.read]);
    const r = await runCli(['journalist', 'reply', '--server', server.url, '--token-file', files.token, '--in', files.read, '--tip', late.id, '--message', 'Thanks.']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`REFUSING: conversation`);
    expect(r.stderr).toContain(`has a message encrypted under the newsroom's key list version ${hidden.version}, but the server offers version ${hidden.version - 1}`);
    expect(await t.db.selectFrom('replies').select('id').where('thread_id', '=', late.threadId).execute()).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await t.db.insertInto('manifests').values(hidden).execute();
  });
});

describe('the newsroom-key pin after a rotation', () => {
  it('moves to the new key, and then refuses a key list signed by the retired one', async () => {
    const { secretKey: oldSecret, publicKey: oldPublic } = await readSigningKeyFile(newsroom.signingKeyFile);
    const newKeyFile = join(newsroom.root, 'newsroom-2.key');
    await rotateSigningKey({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, newSigningKeyFile: newKeyFile });
    const moved = await fetchInbox();
    expect(moved, moved.stderr).toMatchObject({ code: 0 });
    expect(moved.stdout).toContain('the newsroom key moved from');
    const latest = await t.db.selectFrom('manifests').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirstOrThrow();
    const current = JSON.parse(latest.body) as SignedManifest;
    expect(await readFile(join(files.inbox, 'newsroom-key.txt'), 'utf8')).toContain(`\n${current.manifest.newsroomKey}\n`);

    // Whoever holds the retired key signs a newer list with a key of their own in it.
    const intruder = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Eve' }], format: 'armored' });
    const forged = signManifest(
      {
        ...current.manifest,
        version: current.manifest.version + 1,
        newsroomKey: hex.encode(oldPublic),
        rotations: [],
        recipients: [...current.manifest.recipients, { id: 'eve', name: 'Eve', fingerprint: 'ab'.repeat(20), publicKey: intruder.publicKey }],
        desks: current.manifest.desks.map((d) => ({ ...d, recipients: [...d.recipients, 'eve'] })),
      },
      oldSecret,
    );
    await t.db.insertInto('manifests').values({ version: forged.manifest.version, body: JSON.stringify(forged), created_at: latest.created_at }).execute();
    const refused = await fetchInbox();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('REFUSING');
    expect(refused.stdout + refused.stderr).not.toMatch(/^\s+at /m);
  }, 120_000);
});
