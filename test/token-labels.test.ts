/**
 * Token labels: `admin token issue --label` and `journalist add --label` say
 * which laptop a token is for; `admin token list` (and `journalist list`)
 * show it beside the token id, never the secret. A label that could rewrite a
 * terminal (escape sequences, bidi overrides, zero-width or line-break
 * characters) or is too long is refused before anything is written, and the
 * label never reaches the audit log.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTokenLabel } from '../server/admin/token-label.ts';
import { makeNewsroom, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli } from './helpers/server-process.ts';

let newsroom: TestNewsroom;
let keyFile: string;
const admin = (...args: string[]) => runCli(['admin', ...args.slice(0, 2), '--data', newsroom.dataDir, ...args.slice(2)]);
const tokenOf = (stdout: string) => /tl_([A-Za-z0-9_-]{22})_[A-Za-z0-9_-]{43}/.exec(stdout)!;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Ana', email: 'ana@example.org' }], format: 'armored' });
  keyFile = join(newsroom.root, 'ana.asc');
  await writeFile(keyFile, publicKey);
}, 60_000);
afterAll(async () => newsroom?.cleanup());

describe('token labels', () => {
  it('stores the label given at journalist add and token issue, and lists it with the id, never the secret', async () => {
    const added = await admin('journalist', 'add', '--name', 'Ana', '--key', keyFile, '--label', "Ana's newsroom laptop");
    expect(added, added.stderr).toMatchObject({ code: 0 });
    const first = tokenOf(added.stdout);
    const issued = await admin('token', 'issue', '--name', 'Ana', '--label', '  Ana — Tails stick ');
    expect(issued, issued.stderr).toMatchObject({ code: 0 });
    expect(issued.stdout).toContain('New API token for Ana (Ana — Tails stick), shown once:');
    const second = tokenOf(issued.stdout);
    const unlabelled = tokenOf((await admin('token', 'issue', '--name', 'Ana')).stdout);

    const list = await admin('token', 'list');
    expect(list, list.stderr).toMatchObject({ code: 0 });
    const lines = list.stdout.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^Ana\\ttoken ${first[1]}\\tissued \\d{4}-\\d{2}-\\d{2}\\tAna's newsroom laptop$`)),
        expect.stringMatching(new RegExp(`^Ana\\ttoken ${second[1]}\\tissued \\d{4}-\\d{2}-\\d{2}\\tAna — Tails stick$`)),
        expect.stringMatching(new RegExp(`^Ana\\ttoken ${unlabelled[1]}\\tissued \\d{4}-\\d{2}-\\d{2}\\t\\(no label\\)$`)),
      ]),
    );
    expect(lines).toHaveLength(3);
    for (const t of [first, second, unlabelled]) expect(list.stdout).not.toContain(t[0]);
    expect((await admin('journalist', 'list')).stdout).toContain(`token ${second[1]}\tissued`);
    expect((await admin('token', 'list', '--name', 'Ana')).stdout.trim().split('\n')).toHaveLength(3);
    const nobody = await admin('token', 'list', '--name', 'Bea');
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('no journalist named "Bea"');

    // The label says which laptop: it stays out of the audit log, which only says a token was issued.
    const audit = (await admin('audit')).stdout;
    expect(audit).toContain('token.issue');
    expect(audit).not.toMatch(/laptop|Tails/);
  }, 60_000);

  it('refuses labels that could rewrite the terminal or hide text, and too long ones, issuing nothing', async () => {
    const before = (await admin('token', 'list')).stdout;
    const hostile = [
      '\u001b[2J\u001b[1;1Hall tokens revoked', // clears the admin's screen
      'laptop\nAna\ttoken tl_fake', // a forged second line
      'laptop\r(no label)',
      'evil\u202Epot.exe', // right-to-left override
      'zero\u200Bwidth',
      'line\u2028separator',
      'x'.repeat(65),
      '   ',
      '',
    ];
    for (const label of hostile) {
      const r = await admin('token', 'issue', '--name', 'Ana', '--label', label);
      expect(r.code, JSON.stringify(label)).toBe(1);
      expect(r.stdout).not.toMatch(/tl_/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--label (may not contain|must be 1 to 64)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // journalist add checks the label before it adds anyone.
    const add = await admin('journalist', 'add', '--name', 'Bea', '--key', keyFile, '--label', 'a\u0007b');
    expect(add.code).toBe(1);
    expect((await admin('journalist', 'list')).stdout).not.toContain('Bea');
    expect((await admin('token', 'list')).stdout).toBe(before);
  }, 60_000);

  it('checks labels at the door: 64 characters (not UTF-16 units) is the most', () => {
    expect(checkTokenLabel('🔑'.repeat(64))).toBe('🔑'.repeat(64));
    expect(() => checkTokenLabel('🔑'.repeat(65))).toThrow(/1 to 64/);
    expect(checkTokenLabel(undefined)).toBeUndefined();
    expect(checkTokenLabel(' Büro-Laptop 2 ')).toBe('Büro-Laptop 2');
  });
});
