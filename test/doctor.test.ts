/**
 * `tipline admin doctor`: clean on a correct setup, and each misconfiguration
 * caught with the right level (errors make the command exit non-zero) and a
 * fix in plain words.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { runDoctor, type DoctorOptions, type Finding } from '../server/admin/doctor.ts';
import { publishManifest } from '../server/admin/manifests.ts';
import { addJournalist, withNewsroom } from '../server/admin/newsroom.ts';
import { checkOnionAddress } from '../server/onion-address.ts';
import { addTestJournalist, makeNewsroom, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli } from './helpers/server-process.ts';

// Published v3 onion addresses (DuckDuckGo's and the Tor Project's): real-world vectors for the checksum.
const ONION = 'duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion';
const ONION_2 = '2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion';

let newsroom: TestNewsroom;

/** A correct setup: a journalist, a fresh manifest, and private files (tests create files under the shell's umask). */
beforeEach(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Ana');
  await makePrivate(newsroom.dataDir);
});
afterEach(async () => newsroom.cleanup());

async function makePrivate(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await makePrivate(join(dir, e.name));
    else await chmod(join(dir, e.name), 0o600);
  }
}

const settings = (o: Partial<DoctorOptions> = {}): DoctorOptions => ({
  dataDir: newsroom.dataDir,
  host: '127.0.0.1',
  onion: ONION,
  retentionDays: 90,
  // Free space is the machine's, not the setup's: judged on its own below.
  warnFreeBytes: 1,
  errorFreeBytes: 1,
  ...o,
});

const problems = (findings: Finding[]) => findings.filter((f) => f.level !== 'ok');
/** The one problem the test expects, checked for its level and a fix. */
function onlyProblem(findings: Finding[], level: 'warning' | 'error', topic: string, text: RegExp): Finding {
  const found = problems(findings);
  expect(found.map((f) => `${f.level} ${f.topic}`)).toEqual([`${level} ${topic}`]);
  expect(found[0]!.message).toMatch(text);
  expect(found[0]!.message).toMatch(/Fix: /);
  return found[0]!;
}

describe('tipline admin doctor', () => {
  it('is clean on a correct setup', async () => {
    const findings = await runDoctor(settings());
    expect(problems(findings)).toEqual([]);
    expect(findings.map((f) => f.topic)).toEqual(
      expect.arrayContaining(['permissions', 'signing key', 'manifest', 'journalist keys', 'database', 'listen address', 'onion address', 'retention', 'disk space']),
    );
  });

  it('catches a data directory other users can open', async () => {
    await chmod(newsroom.dataDir, 0o755);
    onlyProblem(await runDoctor(settings()), 'error', 'permissions', /is 0755.*chmod 700/);
  });

  it('catches a file other users can read', async () => {
    await chmod(join(newsroom.dataDir, 'tipline.db'), 0o644);
    onlyProblem(await runDoctor(settings()), 'error', 'permissions', /tipline\.db \(0644\).*chmod -R go-rwx/);
  });

  it('catches the signing key copied into the data directory, under any name', async () => {
    await mkdir(join(newsroom.dataDir, 'old'), { mode: 0o700 });
    await copyFile(newsroom.signingKeyFile, join(newsroom.dataDir, 'old', 'notes.txt'));
    await chmod(join(newsroom.dataDir, 'old', 'notes.txt'), 0o600);
    onlyProblem(await runDoctor(settings()), 'error', 'signing key', /old\/notes\.txt is the newsroom signing key/);
  });

  it('warns when the server listens beyond loopback', async () => {
    onlyProblem(await runDoctor(settings({ host: '0.0.0.0' })), 'warning', 'listen address', /every network interface.*127\.0\.0\.1:8080:8080/);
    onlyProblem(await runDoctor(settings({ host: '192.0.2.10' })), 'warning', 'listen address', /192\.0\.2\.10/);
    expect(problems(await runDoctor(settings({ host: '::1' })))).toEqual([]);
  });

  it('warns without an onion address, and refuses a mistyped one', async () => {
    onlyProblem(await runDoctor(settings({ onion: undefined })), 'warning', 'onion address', /no onion address.*--onion/);
    const typo = ONION.replace('sjas', 'sjbs');
    onlyProblem(await runDoctor(settings({ onion: typo })), 'error', 'onion address', /wrong checksum/);
    onlyProblem(await runDoctor(settings({ onion: 'example.onion' })), 'error', 'onion address', /not a v3 onion address/);
    expect(checkOnionAddress(`http://${ONION_2}/`)).toEqual({ ok: true, host: ONION_2 });
  });

  it('warns when tips are kept forever', async () => {
    onlyProblem(await runDoctor(settings({ retentionDays: 0 })), 'warning', 'retention', /kept forever/);
  });

  it('catches an expired manifest, and warns about one that expires soon', async () => {
    await withNewsroom({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile }, (db, secretKey) =>
      publishManifest(db, secretKey!, { today: '2020-01-01', days: 30 }),
    );
    onlyProblem(await runDoctor(settings()), 'error', 'manifest', /expired on 2020-01-31.*manifest export/);
    onlyProblem(await runDoctor(settings({ today: '2020-01-25' })), 'warning', 'manifest', /expires in 6 day/);
  });

  it('warns about a journalist key that expires soon', async () => {
    const { publicKey } = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: 'Bo', email: 'bo@example.org' }],
      keyExpirationTime: 10 * 24 * 3600,
      format: 'armored',
    });
    await addJournalist({ dataDir: newsroom.dataDir, signingKeyFile: newsroom.signingKeyFile, name: 'Bo', armoredKey: publicKey });
    await makePrivate(newsroom.dataDir);
    onlyProblem(await runDoctor(settings()), 'warning', 'journalist keys', /Bo's key expires in (9|10) day.*journalist replace/);
  });

  it('judges free disk space', async () => {
    onlyProblem(await runDoctor(settings({ warnFreeBytes: Number.MAX_SAFE_INTEGER })), 'warning', 'disk space', /free for the data directory/);
    onlyProblem(await runDoctor(settings({ warnFreeBytes: Number.MAX_SAFE_INTEGER, errorFreeBytes: Number.MAX_SAFE_INTEGER })), 'error', 'disk space', /will soon fail/);
  });

  it('says how to make a data directory when given something else', async () => {
    const findings = await runDoctor(settings({ dataDir: join(newsroom.root, 'nothing-here') }));
    expect(findings).toEqual([{ level: 'error', topic: 'data directory', message: expect.stringContaining('tipline admin init') }]);
  });
});

describe('tipline admin doctor, from the command line', () => {
  it('exits 0 on a setup made with the CLI, and non-zero with one clear line on an error', async () => {
    const data = join(newsroom.root, 'cli-data');
    const key = join(newsroom.root, 'cli.key');
    const env = { HOST: '127.0.0.1', TIPLINE_ONION: ONION, TIPLINE_RETENTION_DAYS: '30' };
    expect((await runCli(['admin', 'init', '--data', data, '--signing-key', key])).code).toBe(0);
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Cy', email: 'cy@example.org' }], format: 'armored' });
    await writeFile(join(newsroom.root, 'cy.asc'), publicKey);
    const add = await runCli(['admin', 'journalist', 'add', '--data', data, '--signing-key', key, '--name', 'Cy', '--key', join(newsroom.root, 'cy.asc')]);
    expect(add.code, add.stderr).toBe(0);
    // The CLI keeps what it writes private, so no chmod is needed here.
    expect((await stat(join(data, 'tipline.db'))).mode & 0o777).toBe(0o600);

    const clean = await runCli(['admin', 'doctor', '--data', data], env);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toContain('retention: tips are deleted after 30 days');
    expect(clean.stdout).toMatch(/0 error\(s\), [01] warning\(s\)/); // a warning only if this machine's disk is nearly full

    await chmod(data, 0o750);
    const bad = await runCli(['admin', 'doctor', '--data', data], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^ERROR +permissions: .*is 0750/m);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tipline: doctor found 1 error\(s\)/)]);

    const usage = await runCli(['admin', 'doctor', '--data', data, '--retention-days', 'soon'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--retention-days must be a whole number');
  });
});
