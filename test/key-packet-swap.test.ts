/**
 * Key-packet swaps, from the attacker's side (issue 16, item 6). The server
 * can't open a key packet, and used to check only which key IDs a re-key
 * names: a journalist could swap a colleague's packet for junk naming the
 * same key ID, and the tip opened for nobody but them. Now a key that stays
 * keeps its packet byte for byte, and a packet for a key that joins must be
 * well-formed for that key (crypto/key-packet-swap.ts).
 *
 * Ana, Bo and Cy get a tip with an attachment, and Bo replies. Bo, hostile,
 * tries every swap route over real HTTP (`tipline serve` on 127.0.0.1): junk
 * and even a genuinely fresh packet for Ana are refused (422, nothing
 * changed) and everything still opens for all three. Then Dee (RSA-3072) and
 * Eve (cv25519) join: malformed packets for them are refused, an honest
 * `rekey` goes through keeping the old packets, and every one of the five
 * opens the tip, the attachment and the reply copy. When Cy leaves, cutting
 * Cy's packet out needs no session key at all.
 *
 * The well-formedness check itself is tested on packets openpgp.js writes
 * and on every way to break one, in the last block.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, concatBytes, hex, randomBytes } from '../crypto/bytes.ts';
import { decryptWithKey, encryptToKeys, encryptionKeyIdOf, type PrivateKey, type PublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { checkKeyPacketFor, checkKeyPacketSwap, KeyPacketSwapError, recipientKeyShape, splitKeyPackets, type RecipientKeyShape } from '../crypto/key-packet-swap.ts';
import { inspectEncryptedMessage, inspectMessageHead } from '../crypto/packets.ts';
import { padToBucket } from '../crypto/padding.ts';
import { rewrapMessageHead, rewrapSessionKey } from '../crypto/rekey.ts';
import { sealReply } from '../crypto/reply-box.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { threadIdOf } from '../crypto/codename.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { rekeyTips } from '../client/journalist/rekey-tips.ts';
import { addJournalist, removeJournalist } from '../server/admin/newsroom.ts';
import { makeNewsroom, ON_POSTGRES, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';

type Name = 'Ana' | 'Bo' | 'Cy' | 'Dee' | 'Eve';
type Person = { token: string; privateKey: PrivateKey; publicKey: PublicKey; keyId: string };

const MESSAGE = 'Die Akten liegen im Keller. 档案在地下室。';
const REPLY = 'Merci, reçu. 收到。';
const FILE = randomBytes(20_000);

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();

let room: TestNewsroom;
let app: TestApp;
let server: ServerProcess;
let dir: string;
const people = {} as Record<Name, Person>;
let tipId: string;
let blobId: string;
let replyId: string;

async function makePerson(name: Name, kind: 'cv25519' | 'rsa3072'): Promise<Omit<Person, 'token'>> {
  const userIDs = [{ name, email: `${name.toLowerCase()}@example.org` }];
  const pair = await (kind === 'rsa3072'
    ? openpgp.generateKey({ type: 'rsa', rsaBits: 3072, userIDs, format: 'object' })
    : openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs, format: 'object' }));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, keyId: await encryptionKeyIdOf(pair.publicKey) };
}

async function register(name: Name, person: Omit<Person, 'token'>): Promise<void> {
  const { token } = await addJournalist({ dataDir: room.dataDir, databaseUrl: room.databaseUrl, signingKeyFile: room.signingKeyFile, name, armoredKey: person.publicKey.armor() });
  people[name] = { ...person, token };
}

/** Over real HTTP, as the attacker would. */
async function http(path: string, init: RequestInit = {}, as: Name = 'Bo'): Promise<Response> {
  return fetch(new URL(path, server.url), { ...init, headers: { authorization: `Bearer ${people[as].token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
}

async function bytesOf(path: string, as: Name = 'Bo'): Promise<Uint8Array> {
  const res = await http(path, {}, as);
  expect(res.status, path).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

const storedTip = (as?: Name) => bytesOf(`/api/v1/journalist/tips/${tipId}`, as);
const storedBlob = (as?: Name) => bytesOf(`/api/v1/journalist/blobs/${blobId}`, as);
const storedCopy = (as?: Name) => bytesOf(`/api/v1/journalist/replies/${replyId}`, as);
const blobHead = () => bytesOf(`/api/v1/journalist/blobs/${blobId}/head`);

const putTip = (ciphertext: Uint8Array) => http(`/api/v1/journalist/tips/${tipId}/ciphertext`, { method: 'PUT', body: JSON.stringify({ ciphertext: base64.encode(ciphertext) }) });
const putCopy = (copy: Uint8Array) => http(`/api/v1/journalist/replies/${replyId}/copy`, { method: 'PUT', body: JSON.stringify({ copy: base64.encode(copy) }) });
const putKeyPackets = async (keyPackets: Uint8Array) =>
  http(`/api/v1/journalist/blobs/${blobId}/key-packets`, {
    method: 'PUT',
    body: JSON.stringify({ keyPackets: base64.encode(keyPackets), previousKeyPacketsSha256: sha256(inspectMessageHead(await blobHead()).keyPackets) }),
  });

/** The key packets of a whole message, and its data packet. */
function split(message: Uint8Array): { keyPackets: Uint8Array; data: Uint8Array } {
  const { dataPacket } = inspectEncryptedMessage(message);
  return { keyPackets: message.subarray(0, dataPacket.start), data: message.subarray(dataPacket.start) };
}

/** A PKESK packet around `body`, with a new-format header as openpgp.js writes it. */
function pkesk(body: Uint8Array): Uint8Array {
  const n = body.length;
  const length = n < 192 ? [n] : [((n - 192) >> 8) + 192, (n - 192) & 0xff];
  return concatBytes(new Uint8Array([0xc0 | 1, ...length]), body);
}

/** Junk that names `keyId` and has the shape of a cv25519 packet: nobody can open it, nobody can tell. */
function junkFor(keyId: string): Uint8Array {
  return pkesk(concatBytes(new Uint8Array([3]), hex.decode(keyId), new Uint8Array([18, 0x01, 0x07, 0x40]), randomBytes(32), new Uint8Array([48]), randomBytes(48)));
}

/** `keyPackets` with the packet for `keyId` replaced by `by(its body)`. */
function swapPacket(keyPackets: Uint8Array, keyId: string, by: (body: Uint8Array) => Uint8Array): Uint8Array {
  const packets = splitKeyPackets(keyPackets);
  expect(packets.map((p) => p.keyId)).toContain(keyId);
  return concatBytes(...packets.map((p) => (p.keyId === keyId ? by(p.body) : p.packet)));
}

async function opensFor(name: Name): Promise<{ tip: string; file: Uint8Array; reply: string }> {
  const key = people[name].privateKey;
  const tip = decodeTipDocument(await decryptWithKey(await storedTip(name), key)).message;
  const reply = decodeTipDocument(await decryptWithKey(await storedCopy(name), key)).message;
  const message = await openpgp.readMessage({ binaryMessage: await storedBlob(name) });
  const file = (await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary' })).data as Uint8Array;
  return { tip, file, reply };
}

async function expectEveryoneOpens(names: Name[]): Promise<void> {
  for (const name of names) {
    const opened = await opensFor(name);
    expect(opened.tip, name).toBe(MESSAGE);
    expect(opened.reply, name).toBe(REPLY);
    expect(Buffer.from(opened.file).equals(FILE), name).toBe(true);
  }
}

async function expectRefused(res: Response, code: string): Promise<void> {
  expect(res.status).toBe(422);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(/Nothing was (changed|stored)\./);
}

/** Everything as stored, to compare after a refusal: it must be byte for byte the same. */
async function snapshot(): Promise<string[]> {
  return [sha256(await storedTip()), sha256(await storedBlob()), sha256(await storedCopy())];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tipline-key-packet-swap-'));
  room = await makeNewsroom();
  const [ana, bo, cy] = await Promise.all([makePerson('Ana', 'cv25519'), makePerson('Bo', 'cv25519'), makePerson('Cy', 'cv25519')]);
  await register('Ana', ana);
  await register('Bo', bo);
  await register('Cy', cy);
  app = await openTestApp(room);
  const keys = [ana.publicKey, bo.publicKey, cy.publicKey];

  // The source: an attachment and the tip naming it, both to Ana, Bo and Cy.
  const blob = new Uint8Array(await new Response(await encryptFileStream(streamOf(FILE), keys)).arrayBuffer());
  const created = await app.app.request('/api/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: blob.length }) });
  expect(created.status).toBe(201);
  blobId = ((await created.json()) as { id: string }).id;
  expect((await app.app.request(`/api/v1/uploads/${blobId}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob })).status).toBe(200);
  expect((await app.app.request(`/api/v1/uploads/${blobId}/complete`, { method: 'POST' })).status).toBe(200);
  // As the page writes it now: the tip names its conversation and desk, so rekey may add the desk's newcomers to it.
  const lookupSecret = randomBytes(32);
  const doc = encodeTipDocument({
    type: 'tip',
    message: MESSAGE,
    fields: {},
    threadId: threadIdOf(lookupSecret),
    deskId: 'general',
    attachments: [{ blobId, name: 'f.bin', type: '', size: FILE.length, sha256: sha256(FILE) }],
  });
  const tip = await app.app.request('/api/v1/tips', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ciphertext: base64.encode(await encryptToKeys(padToBucket(doc), keys)), lookupSecret: base64.encode(lookupSecret), attachments: [blobId] }),
  });
  expect(tip.status).toBe(201);

  // Bo replies; the newsroom's copy goes to the same three keys.
  const auth = { authorization: `Bearer ${people.Bo.token}`, 'content-type': 'application/json' };
  const listed = (await (await app.app.request('/api/v1/journalist/tips', { headers: auth })).json()) as { tips: { id: string; threadId: string }[] };
  tipId = listed.tips[0]!.id;
  const padded = padToBucket(encodeTipDocument({ type: 'reply', message: REPLY, fields: {} }));
  const reply = await app.app.request(`/api/v1/journalist/threads/${listed.tips[0]!.threadId}/replies`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ box: base64.encode(sealReply(padded, x25519.getPublicKey(x25519.utils.randomSecretKey()))), copy: base64.encode(await encryptToKeys(padded, keys)) }),
  });
  expect(reply.status).toBe(201);
  replyId = ((await reply.json()) as { id: string }).id;

  server = await startServerProcess(room.dataDir, [], { TIPLINE_POW_DIFFICULTY: '0' });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await app?.close();
  await room?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a journalist swapping a colleague's key packet", () => {
  let before: string[];
  beforeAll(async () => {
    before = await snapshot();
  });

  it("is refused for the tip (key-packet-changed): junk naming Ana's key, and even a good fresh packet for it", async () => {
    const stored = await storedTip();
    const { keyPackets, data } = split(stored);
    await expectRefused(await putTip(concatBytes(swapPacket(keyPackets, people.Ana.keyId, () => junkFor(people.Ana.keyId)), data)), 'key-packet-changed');
    // A packet holding the real session key looks to the server just like junk: refused too.
    const [sessionKey] = await openpgp.decryptSessionKeys({ message: await openpgp.readMessage({ binaryMessage: stored }), decryptionKeys: people.Bo.privateKey });
    const fresh = (await openpgp.encryptSessionKey({ data: sessionKey!.data, algorithm: sessionKey!.algorithm!, encryptionKeys: people.Ana.publicKey, format: 'binary' })) as Uint8Array;
    const withFresh = concatBytes(swapPacket(keyPackets, people.Ana.keyId, () => fresh), data);
    expect(decodeTipDocument(await decryptWithKey(withFresh, people.Ana.privateKey)).message).toBe(MESSAGE);
    await expectRefused(await putTip(withFresh), 'key-packet-changed');
    expect(await snapshot()).toEqual(before);
  });

  it('is refused for the attachment head (key-packet-changed), the blob left as it was', async () => {
    const { keyPackets } = inspectMessageHead(await blobHead());
    await expectRefused(await putKeyPackets(swapPacket(keyPackets, people.Cy.keyId, () => junkFor(people.Cy.keyId))), 'key-packet-changed');
    expect(await snapshot()).toEqual(before);
  });

  it('is refused for the reply copy (key-packet-changed)', async () => {
    const { keyPackets, data } = split(await storedCopy());
    await expectRefused(await putCopy(concatBytes(swapPacket(keyPackets, people.Ana.keyId, () => junkFor(people.Ana.keyId)), data)), 'key-packet-changed');
    expect(await snapshot()).toEqual(before);
  });

  it('leaves the tip, the attachment and the reply copy opening for Ana, Bo and Cy', async () => {
    await expectEveryoneOpens(['Ana', 'Bo', 'Cy']);
  });
});

describe('new key packets for journalists who join', () => {
  /** The stored key packets before anyone joins: the ones that must survive the re-key byte for byte. */
  let oldPackets: { tip: Uint8Array; blob: Uint8Array; copy: Uint8Array };
  /** An honest re-key of the tip for all five, to break one packet of at a time. */
  let honest: { keyPackets: Uint8Array; data: Uint8Array };
  let before: string[];

  beforeAll(async () => {
    const [dee, eve] = await Promise.all([makePerson('Dee', 'rsa3072'), makePerson('Eve', 'cv25519')]);
    await register('Dee', dee);
    await register('Eve', eve);
    oldPackets = { tip: split(await storedTip()).keyPackets.slice(), blob: inspectMessageHead(await blobHead()).keyPackets.slice(), copy: split(await storedCopy()).keyPackets.slice() };
    const everyone = (['Ana', 'Bo', 'Cy', 'Dee', 'Eve'] as const).map((n) => people[n].publicKey);
    honest = split(await rewrapSessionKey(await storedTip(), people.Bo.privateKey, everyone));
    before = await snapshot();
  }, 60_000);

  const breakings: [string, Name, (body: Uint8Array) => Uint8Array][] = [
    ['the wrong public-key algorithm (RSA for a cv25519 key)', 'Eve', (b) => concatBytes(b.subarray(0, 9), new Uint8Array([1, 0x01, 0x00, 0x80]))],
    ['a truncated MPI (263 bits announced, 20 bytes there)', 'Eve', (b) => b.subarray(0, 10 + 2 + 20)],
    ['a byte after the last field', 'Eve', (b) => concatBytes(b, new Uint8Array([0]))],
    ['an oversized wrapped key (200 bytes)', 'Eve', (b) => concatBytes(b.subarray(0, 10 + 2 + 33), new Uint8Array([200]), randomBytes(200))],
    ['an RSA value longer than the key\'s modulus (4096 bits for RSA-3072)', 'Dee', (b) => concatBytes(b.subarray(0, 10), new Uint8Array([0x10, 0x00, 0x80]), randomBytes(511))],
  ];

  it.each(breakings)('refuses a tip re-key whose new packet has %s (bad-key-packet)', async (_what, who, breakIt) => {
    await expectRefused(await putTip(concatBytes(swapPacket(honest.keyPackets, people[who].keyId, (body) => pkesk(breakIt(body))), honest.data)), 'bad-key-packet');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses malformed new packets for the attachment head and the reply copy (bad-key-packet)', async () => {
    const everyone = (['Ana', 'Bo', 'Cy', 'Dee', 'Eve'] as const).map((n) => people[n].publicKey);
    const head = await rewrapMessageHead(await blobHead(), people.Bo.privateKey, everyone);
    await expectRefused(await putKeyPackets(swapPacket(head, people.Eve.keyId, (body) => pkesk(concatBytes(body, new Uint8Array([0]))))), 'bad-key-packet');
    const copy = split(await rewrapSessionKey(await storedCopy(), people.Bo.privateKey, everyone));
    await expectRefused(await putCopy(concatBytes(swapPacket(copy.keyPackets, people.Dee.keyId, (body) => pkesk(body.subarray(0, body.length - 1))), copy.data)), 'bad-key-packet');
    expect(await snapshot()).toEqual(before);
  });

  it('takes an honest rekey, which keeps every old packet byte for byte, and all five open everything', async () => {
    const inboxDir = join(dir, 'inbox-Bo');
    await fetchTips({ server: server.url, token: people.Bo.token, outDir: inboxDir });
    const r = await rekeyTips({ server: server.url, token: people.Bo.token, key: people.Bo.privateKey, inboxDir });
    expect(r).toMatchObject({ rekeyed: [tipId], failed: [] });
    expect(r.attachments).toMatchObject({ rekeyed: [blobId], failed: [] });
    expect(r.replies).toMatchObject({ rekeyed: [replyId], failed: [] });
    const after = { tip: split(await storedTip()).keyPackets, blob: inspectMessageHead(await blobHead()).keyPackets, copy: split(await storedCopy()).keyPackets };
    for (const what of ['tip', 'blob', 'copy'] as const) {
      // The old packets first, untouched; then one new packet each for Dee and Eve.
      expect(Buffer.from(after[what].subarray(0, oldPackets[what].length)).equals(oldPackets[what]), what).toBe(true);
      expect(splitKeyPackets(after[what].subarray(oldPackets[what].length)).map((p) => p.keyId).sort(), what).toEqual([people.Dee.keyId, people.Eve.keyId].sort());
    }
    await expectEveryoneOpens(['Ana', 'Bo', 'Cy', 'Dee', 'Eve']);
  });

  it("cuts out a journalist who left with no session key at all: a key that opens nothing will do", async () => {
    await removeJournalist({ dataDir: room.dataDir, databaseUrl: room.databaseUrl, signingKeyFile: room.signingKeyFile, name: 'Cy' });
    const stranger = await makePerson('Eve', 'cv25519'); // a fresh key: not one the tip is encrypted to
    const staying = (['Ana', 'Bo', 'Dee', 'Eve'] as const).map((n) => people[n].publicKey);
    const stored = await storedTip();
    const cut = await rewrapSessionKey(stored, stranger.privateKey, staying);
    expect(splitKeyPackets(split(cut).keyPackets).map((p) => p.packet)).toEqual(splitKeyPackets(split(stored).keyPackets).filter((p) => p.keyId !== people.Cy.keyId).map((p) => p.packet));
    expect((await putTip(cut)).status).toBe(200);
    await expect(decryptWithKey(await storedTip(), people.Cy.privateKey)).rejects.toThrow();
    for (const name of ['Ana', 'Bo', 'Dee', 'Eve'] as const) expect(decodeTipDocument(await decryptWithKey(await storedTip(name), people[name].privateKey)).message, name).toBe(MESSAGE);
  });
});

// No storage in these: they run once, in the sqlite project.
describe.skipIf(ON_POSTGRES)('crypto/key-packet-swap.ts', () => {
  type Kind = 'cv25519' | 'rsa3072' | 'x25519' | 'p256';
  const made = {} as Record<Kind, { publicKey: PublicKey; privateKey: PrivateKey; shape: RecipientKeyShape }>;
  const options: Record<Kind, Omit<Parameters<typeof openpgp.generateKey>[0], 'userIDs' | 'format'>> = {
    cv25519: { type: 'ecc', curve: 'curve25519Legacy' },
    rsa3072: { type: 'rsa', rsaBits: 3072 },
    // RFC 9580's X25519 (algorithm 25) in a v4 key: openpgp.js writes it into v3 packets. tipline doesn't register such keys.
    x25519: { type: 'curve25519' },
    p256: { type: 'ecc', curve: 'nistP256' },
  };

  beforeAll(async () => {
    for (const kind of Object.keys(options) as Kind[]) {
      const pair = await openpgp.generateKey({ ...options[kind], userIDs: [{ email: `${kind}@example.org` }], format: 'object' });
      made[kind] = { publicKey: pair.publicKey, privateKey: pair.privateKey, shape: await recipientKeyShape(pair.publicKey) };
    }
  }, 60_000);

  const AES = { aes128: 16, aes192: 24, aes256: 32 } as const;
  async function packetFor(kind: Kind, algorithm: keyof typeof AES = 'aes256'): Promise<Uint8Array> {
    const bytes = (await openpgp.encryptSessionKey({ data: randomBytes(AES[algorithm]), algorithm, encryptionKeys: made[kind].publicKey, format: 'binary' })) as Uint8Array;
    return splitKeyPackets(bytes)[0]!.body;
  }
  const refusal = (body: Uint8Array, kind: Kind) => {
    try {
      checkKeyPacketFor(body, made[kind].shape);
    } catch (e) {
      expect(e).toBeInstanceOf(KeyPacketSwapError);
      expect((e as KeyPacketSwapError).code).toBe('bad-key-packet');
      return (e as Error).message;
    }
    return 'accepted';
  };

  it('describes each key as its packets must look: key ID, algorithm, curve, RSA modulus', async () => {
    expect(made.cv25519.shape).toMatchObject({ keyId: await encryptionKeyIdOf(made.cv25519.publicKey), algorithm: 18, curve: 'curve25519Legacy' });
    expect(made.rsa3072.shape.algorithm).toBe(1);
    expect(made.rsa3072.shape.modulus?.length).toBe(384);
    expect(made.x25519.shape.algorithm).toBe(25);
  });

  it.each(['aes128', 'aes192', 'aes256'] as const)('accepts what openpgp.js writes for each key with an %s session key', async (algorithm) => {
    for (const kind of ['cv25519', 'rsa3072', 'x25519'] as const) expect(refusal(await packetFor(kind, algorithm), kind), kind).toBe('accepted');
  });

  it('refuses a packet that is not version 3, names another key, or has another algorithm', async () => {
    const body = await packetFor('cv25519');
    expect(refusal(concatBytes(new Uint8Array([6]), body.subarray(1)), 'cv25519')).toMatch(/version 3/);
    expect(refusal(body, 'rsa3072')).toMatch(/names another key/);
    const renamed = concatBytes(body.subarray(0, 1), hex.decode(made.rsa3072.shape.keyId), body.subarray(9));
    expect(refusal(renamed, 'rsa3072')).toMatch(/algorithm 18, but the key's encryption subkey uses 1/);
    expect(refusal(body.subarray(0, 9), 'cv25519')).toMatch(/version 3/);
  });

  it('refuses a cv25519 packet with a bad point, a wrong wrapped-key size, or bytes missing or left over', async () => {
    const body = await packetFor('cv25519');
    const point = body.subarray(10, 10 + 2 + 33);
    const wrapped = body.subarray(10 + 2 + 33);
    const withPoint = (p: Uint8Array) => concatBytes(body.subarray(0, 10), p, wrapped);
    expect(refusal(withPoint(concatBytes(new Uint8Array([0x01, 0x07, 0x41]), point.subarray(3))), 'cv25519')).toMatch(/Curve25519 point/);
    expect(refusal(withPoint(concatBytes(new Uint8Array([0x01, 0x07, 0x04]), point.subarray(3))), 'cv25519')).toMatch(/bit count is wrong/);
    expect(refusal(withPoint(concatBytes(new Uint8Array([0x01, 0x08]), point.subarray(2))), 'cv25519')).toMatch(/bit count is wrong/);
    expect(refusal(withPoint(concatBytes(new Uint8Array([0x01, 0x0f]), point.subarray(2))), 'cv25519')).toMatch(/Curve25519 point/);
    expect(refusal(withPoint(new Uint8Array([0, 0])), 'cv25519')).toMatch(/empty number/);
    for (const size of [0, 24, 56, 255]) {
      expect(refusal(concatBytes(body.subarray(0, 10), point, new Uint8Array([size]), randomBytes(size)), 'cv25519'), String(size)).toMatch(new RegExp(`wrapped key of ${size} bytes`));
    }
    expect(refusal(body.subarray(0, body.length - 1), 'cv25519')).toMatch(/truncated/);
    expect(refusal(body.subarray(0, 10 + 20), 'cv25519')).toMatch(/truncated/);
    expect(refusal(body.subarray(0, 10 + 2 + 33), 'cv25519')).toMatch(/truncated/);
    expect(refusal(concatBytes(body, new Uint8Array([0])), 'cv25519')).toMatch(/1 byte\(s\) after its last field/);
  });

  it('refuses an RSA packet whose value is not smaller than the modulus, zero, padded, or followed by bytes', async () => {
    const body = await packetFor('rsa3072');
    const n = made.rsa3072.shape.modulus!;
    const mpi = (value: Uint8Array, bits = value.length * 8 - Math.clz32(value[0]!) + 24) => concatBytes(body.subarray(0, 10), new Uint8Array([bits >> 8, bits & 0xff]), value);
    expect(refusal(mpi(n), 'rsa3072')).toMatch(/not smaller than the key's modulus/);
    expect(refusal(mpi(concatBytes(new Uint8Array([0x80]), randomBytes(n.length))), 'rsa3072')).toMatch(/not smaller than the key's modulus/);
    expect(refusal(concatBytes(body.subarray(0, 10), new Uint8Array([0, 0])), 'rsa3072')).toMatch(/empty number/);
    // A leading zero byte: the bit count then says one byte more than the number needs.
    const value = body.subarray(12);
    expect(refusal(mpi(concatBytes(new Uint8Array([0]), value), value.length * 8 + 8), 'rsa3072')).toMatch(/bit count is wrong/);
    expect(refusal(concatBytes(body, new Uint8Array([1, 2])), 'rsa3072')).toMatch(/2 byte\(s\) after its last field/);
    expect(refusal(body.subarray(0, 100), 'rsa3072')).toMatch(/truncated/);
    const lowered = mpi(new Uint8Array([1]), 1);
    expect(refusal(lowered, 'rsa3072')).toBe('accepted'); // any 0 < value < n is a possible RSA ciphertext
  });

  it('refuses an X25519 packet with a cleartext cipher that is not AES, a wrong size, or bytes left over', async () => {
    const body = await packetFor('x25519');
    const fields = body.subarray(10);
    const withTail = (tail: Uint8Array) => concatBytes(body.subarray(0, 10), fields.subarray(0, 32), tail);
    expect(refusal(withTail(concatBytes(new Uint8Array([41, 2]), fields.subarray(34))), 'x25519')).toMatch(/AES session key/);
    expect(refusal(withTail(concatBytes(new Uint8Array([49, 9]), randomBytes(48))), 'x25519')).toMatch(/wrapped key of 48 bytes/);
    expect(refusal(concatBytes(body, new Uint8Array([0])), 'x25519')).toMatch(/after its last field/);
    expect(refusal(body.subarray(0, 10 + 32), 'x25519')).toMatch(/too short|AES/);
    expect(refusal(body.subarray(0, body.length - 1), 'x25519')).toMatch(/truncated/);
  });

  it('refuses every packet for a key tipline does not take (ECDH over P-256)', async () => {
    expect(refusal(await packetFor('p256'), 'p256')).toMatch(/nistP256, which tipline does not accept/);
  });

  it('checks a swap: staying packets byte for byte in any order, new ones against their key', async () => {
    const [a, b] = await Promise.all([packetFor('cv25519'), packetFor('rsa3072')]);
    const stored = concatBytes(pkesk(a), pkesk(b));
    const shapes = new Map([made.cv25519.shape, made.rsa3072.shape, made.x25519.shape].map((s) => [s.keyId, s]));
    expect(() => checkKeyPacketSwap(stored, concatBytes(pkesk(b), pkesk(a)), shapes)).not.toThrow();
    expect(() => checkKeyPacketSwap(stored, pkesk(b), shapes)).not.toThrow(); // dropping a key is checkKeyIds' concern
    const x = await packetFor('x25519');
    expect(() => checkKeyPacketSwap(stored, concatBytes(pkesk(a), pkesk(b), pkesk(x)), shapes)).not.toThrow();
    const otherA = await packetFor('cv25519');
    expect(() => checkKeyPacketSwap(stored, concatBytes(pkesk(otherA), pkesk(b)), shapes)).toThrow(expect.objectContaining({ code: 'key-packet-changed' }));
    expect(() => checkKeyPacketSwap(stored, concatBytes(pkesk(a), pkesk(b), pkesk(concatBytes(x, new Uint8Array([0])))), shapes)).toThrow(expect.objectContaining({ code: 'bad-key-packet' }));
    expect(() => checkKeyPacketSwap(stored, concatBytes(pkesk(a), pkesk(x)), new Map())).toThrow(expect.objectContaining({ code: 'bad-key-packet' }));
  });

  it('rewrapSessionKey keeps the staying packets, adds only the joining ones, and needs no key when nobody joins', async () => {
    const [cv, rsa, x] = [made.cv25519, made.rsa3072, made.x25519];
    const stored = await encryptToKeys(new Uint8Array(64), [cv.publicKey, rsa.publicKey]);
    const [cvPacket, rsaPacket] = splitKeyPackets(split(stored).keyPackets);
    const added = await rewrapSessionKey(stored, cv.privateKey, [x.publicKey, rsa.publicKey, cv.publicKey]);
    const packets = splitKeyPackets(split(added).keyPackets);
    expect(packets.map((p) => p.keyId)).toEqual([cv.shape.keyId, rsa.shape.keyId, x.shape.keyId]);
    expect(packets[0]!.packet).toEqual(cvPacket!.packet);
    expect(packets[1]!.packet).toEqual(rsaPacket!.packet);
    const shapes = new Map([cv.shape, rsa.shape, x.shape].map((s) => [s.keyId, s]));
    expect(() => checkKeyPacketSwap(split(stored).keyPackets, split(added).keyPackets, shapes)).not.toThrow();
    expect(await decryptWithKey(added, x.privateKey)).toEqual(new Uint8Array(64));
    // Only a removal: the X25519 key isn't one the message is encrypted to, and isn't needed.
    const removed = await rewrapSessionKey(stored, x.privateKey, [rsa.publicKey]);
    expect(split(removed).keyPackets).toEqual(rsaPacket!.packet);
    expect(Buffer.from(split(removed).data).equals(split(stored).data)).toBe(true);
    // A joining key needs the session key: a key that can't open the message can't add anyone.
    await expect(rewrapSessionKey(stored, x.privateKey, [rsa.publicKey, x.publicKey])).rejects.toMatchObject({ name: 'RekeyError', code: 'not-for-this-key' });
  });

  it('takes bytes only', () => {
    for (const bad of [undefined, null, 'x', 1, [1, 2], {}, new ArrayBuffer(4)]) {
      expect(() => checkKeyPacketFor(bad as never, made.cv25519.shape)).toThrow(TypeError);
      expect(() => checkKeyPacketSwap(bad as never, new Uint8Array(), new Map())).toThrow(TypeError);
      expect(() => checkKeyPacketSwap(new Uint8Array(), bad as never, new Map())).toThrow(TypeError);
    }
  });
});
