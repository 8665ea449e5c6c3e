/**
 * The reply author in the newsroom's copy (crypto/tip-document.ts `author`):
 * only a reply may carry one, in one exact shape, and decrypt shows it (and
 * "a journalist" for older replies without it) without letting a hostile name
 * rewrite the terminal line.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { randomId } from '../crypto/bytes.ts';
import { encryptToKeys } from '../crypto/envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { decodeTipDocument, encodeTipDocument, type TipDocument } from '../crypto/tip-document.ts';

const FPR = 'ab'.repeat(20);
let root: string;
let key: openpgp.PrivateKey;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-author-'));
  key = (await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'J', email: 'j@example.org' }], format: 'object' })).privateKey;
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('tip document author', () => {
  it('round-trips on a reply', () => {
    const doc: TipDocument = { type: 'reply', message: 'hi', fields: {}, author: { name: 'Ana', fingerprint: FPR } };
    expect(decodeTipDocument(encodeTipDocument(doc)).author).toEqual({ name: 'Ana', fingerprint: FPR });
  });

  it.each([
    ['on a tip', { type: 'tip', author: { name: 'Ana', fingerprint: FPR } }],
    ['with an uppercase fingerprint', { type: 'reply', author: { name: 'Ana', fingerprint: FPR.toUpperCase() } }],
    ['with an empty name', { type: 'reply', author: { name: '', fingerprint: FPR } }],
    ['with a 201-character name', { type: 'reply', author: { name: 'x'.repeat(201), fingerprint: FPR } }],
    ['with an extra field', { type: 'reply', author: { name: 'Ana', fingerprint: FPR, key: 'x' } }],
    ['that is a string', { type: 'reply', author: 'Ana' }],
  ])('is refused %s', (_, extra) => {
    expect(() => encodeTipDocument({ message: 'hi', fields: {}, ...extra } as unknown as TipDocument)).toThrow(/author/);
  });
});

describe('decrypt shows who sent a reply', () => {
  async function decryptReply(doc: TipDocument): Promise<{ lines: string[]; meta: Record<string, unknown> }> {
    const inbox = join(root, `inbox-${randomId()}`);
    const out = join(root, `read-${randomId()}`);
    await mkdir(inbox);
    const id = randomId();
    await writeFile(join(inbox, `${id}.gpg`), await encryptToKeys(padToBucket(encodeTipDocument(doc)), [key.toPublic()]));
    await writeFile(join(inbox, `${id}.json`), JSON.stringify({ id, threadId: 'c'.repeat(64), seq: 2, kind: 'reply', day: '2026-12-01', size: 1 }));
    const lines: string[] = [];
    const r = await decryptTips({ key, inDir: inbox, outDir: out, log: (l) => lines.push(l) });
    expect(r.decrypted).toHaveLength(1);
    return { lines, meta: JSON.parse(await readFile(join(r.decrypted[0]!, 'meta.json'), 'utf8')) };
  }

  it('in meta.json and on the terminal, with control and bidi characters in the name made harmless', async () => {
    const { lines, meta } = await decryptReply({ type: 'reply', message: 'hi', fields: {}, author: { name: 'Ana\u202e\u001b[2Jevil', fingerprint: FPR } });
    expect(meta.author).toEqual({ name: 'Ana\u202e\u001b[2Jevil', fingerprint: FPR });
    expect(meta.authorNote).toMatch(/not signed/);
    const line = lines.find((l) => l.startsWith('decrypted reply'))!;
    expect(line).toContain(`(by Ana??[2Jevil, key ${FPR})`);
    expect(line).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  it('as "a journalist", with author null, for a reply without one', async () => {
    const { lines, meta } = await decryptReply({ type: 'reply', message: 'hi', fields: {} });
    expect(meta.author).toBeNull();
    expect(lines.find((l) => l.startsWith('decrypted reply'))).toContain('(by a journalist)');
  });
});
