/**
 * GnuPG interop, end to end. Journalist keys are made by stock gpg 2.2 (one
 * RSA-4096, one ed25519 + cv25519), registered like an admin would, and tips are
 * sent both ways a source can send them: encrypted in the browser, and through
 * the no-JavaScript form that the server encrypts. Each stored tip must then open
 * with plain `gpg --decrypt` under each key on its own, and with
 * `tipline journalist fetch` + `decrypt` using a secret key exported from gpg.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { utcDay } from '../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { verifyManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { pseudonymFor } from '../client/journalist/pseudonym.ts';
import { addJournalist } from '../server/admin/newsroom.ts';
import { readDataDir } from '../server/data-dir.ts';
import { makeGpgHome, type GpgHome } from './helpers/gpg.ts';
import { makeNewsroom, openTestApp, type TestApp, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

type Via = 'browser' | 'server';

type GpgJournalist = {
  name: string;
  email: string;
  kind: 'rsa4096' | 'ed25519';
  /** A GNUPGHOME holding this journalist's secret key and no other, so a decryption proves this key alone opens the tip. */
  home: GpgHome;
  /** As gpg prints it: uppercase. */
  fingerprint: string;
  token: string;
};

// Non-ASCII (accents, Chinese, typographic quotes) and newlines: what breaks first when
// a layer guesses an encoding or normalises line ends.
const MESSAGES: Record<Via, string> = {
  browser: 'Les documents sont à la mairie, demandez Hélène.\n文件在市政厅，请找海伦。\n“Ñandú” ✓',
  server: 'Réunion secrète jeudi à 18 h.\n会议在星期四下午六点。\nMañana también.',
};

let workDir: string;
let newsroom: TestNewsroom;
let testApp: TestApp;
const journalists: GpgJournalist[] = [];
/** The stored ciphertext of each tip, as the journalist API hands it out, written to a file for gpg. */
const tipFiles = new Map<Via, { id: string; file: string }>();

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tipline-interop-'));
  const specs = [
    { name: 'Rosa', email: 'rosa@example.org', kind: 'rsa4096' },
    { name: 'Eddie', email: 'eddie@example.org', kind: 'ed25519' },
  ] as const;
  // One GNUPGHOME per journalist; RSA-4096 generation in gpg can take a while, so both run at once.
  const made = await Promise.all(
    specs.map(async (spec) => {
      const home = await makeGpgHome();
      const fingerprint = await home.generate(spec.kind, spec.email);
      return { ...spec, home, fingerprint };
    }),
  );
  newsroom = await makeNewsroom();
  for (const j of made) {
    const armoredKey = await j.home.exportPublic(j.email);
    const { token } = await addJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: j.name, armoredKey });
    journalists.push({ ...j, token });
  }
  testApp = await openTestApp(newsroom);
}, 120_000);

afterAll(async () => {
  await testApp?.close();
  await Promise.all(journalists.map((j) => j.home.cleanup()));
  await newsroom?.cleanup();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('GnuPG interop', () => {
  it('registers both gpg-made keys under the fingerprints gpg prints', async () => {
    const dir = await readDataDir(newsroom.dataDir);
    const res = await testApp.app.request('/api/v1/manifest');
    expect(res.status).toBe(200);
    const manifest = verifyManifest(await res.json(), dir.newsroomPublicKey, { today: utcDay() });
    // openpgp.js writes lowercase, gpg uppercase: the same key either way.
    expect(manifest.recipients.map((r) => r.fingerprint.toUpperCase()).sort()).toEqual(journalists.map((j) => j.fingerprint).sort());
  });

  it('accepts a tip encrypted the way the browser does', async () => {
    const dir = await readDataDir(newsroom.dataDir);
    const manifestResponse = await testApp.app.request('/api/v1/manifest');
    const manifest = verifyManifest(await manifestResponse.json(), dir.newsroomPublicKey, { today: utcDay() });
    const keys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
    const ciphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: MESSAGES.browser, fields: {} })), keys);

    const res = await testApp.app.request('/api/v1/tips', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: base64.encode(ciphertext), lookupSecret: base64.encode(randomBytes(32)) }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { status: string; receipt: string };
    expect(body.status).toBe('received');
    expect(body.receipt).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('accepts a tip from the no-JavaScript form', async () => {
    // Browsers submit a textarea's line ends as CRLF; the server turns them back into the LF the source typed.
    const form = new URLSearchParams({ message: MESSAGES.server.replace(/\n/g, '\r\n') });
    const res = await noJsPoster((p, init) => testApp.app.request(p, init))('/submit', form.toString());
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('hands both ciphertexts out through the journalist API', async () => {
    const auth = { authorization: `Bearer ${journalists[0]!.token}` };
    const list = await testApp.app.request('/api/v1/journalist/tips', { headers: auth });
    expect(list.status).toBe(200);
    const { tips } = (await list.json()) as { tips: { id: string; via: Via }[] };
    expect(tips.map((t) => t.via).sort()).toEqual(['browser', 'server']);
    for (const tip of tips) {
      const res = await testApp.app.request(`/api/v1/journalist/tips/${tip.id}`, { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      const file = join(workDir, `${tip.via}.gpg`);
      await writeFile(file, new Uint8Array(await res.arrayBuffer()));
      tipFiles.set(tip.via, { id: tip.id, file });
    }
  });

  describe.each([
    ['RSA-4096', 'rsa4096'],
    ['ed25519 + cv25519', 'ed25519'],
  ] as const)('gpg --decrypt with the %s key alone', (_label, kind) => {
    const journalist = () => journalists.find((j) => j.kind === kind)!;

    it('has exactly one secret key in its GNUPGHOME', async () => {
      const { stdout } = await journalist().home.gpg(['--with-colons', '--list-secret-keys']);
      const secretFingerprints = [...stdout.toString().matchAll(/^sec:.*\nfpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
      expect(secretFingerprints).toEqual([journalist().fingerprint]);
    });

    it.each(['browser', 'server'] as const)('opens the %s-encrypted tip to the exact message', async (via) => {
      const tip = tipFiles.get(via);
      expect(tip, 'the journalist API test stores the ciphertext first').toBeDefined();
      const output = await journalist().home.decrypt(tip!.file);
      // Readable as-is: a JSON header line, then the message in clear UTF-8.
      expect(output.subarray(0, 12).toString()).toBe('{"tipline":1');
      expect(output.includes(Buffer.from(MESSAGES[via], 'utf8'))).toBe(true);
      expect(decodeTipDocument(new Uint8Array(output)).message).toBe(MESSAGES[via]);
    });
  });

  it('tipline journalist fetch + decrypt open both tips with a gpg-exported secret key', async () => {
    const server = await startServerProcess(newsroom.dataDir);
    try {
      for (const j of journalists) {
        const mine = join(workDir, `cli-${j.kind}`);
        await mkdir(mine);
        const tokenFile = join(mine, 'token');
        const keyFile = join(mine, 'secret.asc');
        const inbox = join(mine, 'inbox');
        const out = join(mine, 'tips');
        await writeFile(tokenFile, `${j.token}\n`, { mode: 0o600 });
        const secret = await j.home.exportSecret(j.email);
        expect(secret).toContain('BEGIN PGP PRIVATE KEY BLOCK');
        await writeFile(keyFile, secret, { mode: 0o600 });

        const fetched = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', inbox]);
        expect(fetched, fetched.stderr).toMatchObject({ code: 0 });
        expect(fetched.stdout).toContain('2 new tip(s) fetched');

        const decrypted = await runCli(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
        expect(decrypted, decrypted.stderr).toMatchObject({ code: 0 });
        expect(decrypted.stdout).toContain('2 message(s) decrypted');

        for (const via of ['browser', 'server'] as const) {
          const { id } = tipFiles.get(via)!;
          const info = JSON.parse(await readFile(join(inbox, `${id}.json`), 'utf8')) as { threadId: string; kind: string; seq: number; via: Via };
          expect(info.via).toBe(via);
          expect(info).toMatchObject({ kind: 'tip', seq: 1 });
          // Each tip opens its own conversation: <pseudonym>/001-tip-<id>/.
          const folder = join(out, pseudonymFor(info.threadId), `001-tip-${id}`);
          expect(await readFile(join(folder, 'message.txt'), 'utf8')).toBe(MESSAGES[via]);
          const meta = JSON.parse(await readFile(join(folder, 'meta.json'), 'utf8')) as { encryptedBy: string };
          expect(meta.encryptedBy).toBe(via);
        }
      }
    } finally {
      await server.stop();
    }
  }, 60_000);
});
