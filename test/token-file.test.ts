/**
 * `--token-file` is checked on this machine before anything is sent: a secret
 * key or a passphrase file given by mistake is refused with a one-line
 * message that does not show its contents, and no connection is made (a
 * listener on 127.0.0.1 stands in for the server and counts connections).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/server-process.ts';

let root: string;
let listener: Server;
let connections = 0;
let url: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-token-file-'));
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
  await rm(root, { recursive: true, force: true });
});

describe('--token-file', () => {
  it.each([
    ['an OpenPGP secret key', 'secret', 'it holds an OpenPGP SECRET KEY'],
    ['a passphrase file', 'passphrase', 'it does not have the shape of one'],
    ['a token with a character changed', 'near-token', 'it does not have the shape of one'],
  ])('refuses %s without showing it or connecting', async (_, kind, why) => {
    let content: string;
    if (kind === 'secret') {
      content = (await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'j@example.org' }], format: 'armored' })).privateKey;
    } else if (kind === 'passphrase') content = 'correct horse battery staple\n';
    else content = `tl_${'A'.repeat(22)}_${'A'.repeat(42)}!\n`;
    const file = join(root, kind);
    await writeFile(file, content, { mode: 0o600 });
    for (const args of [
      ['fetch', '--out', join(root, 'out')],
      ['delete-thread', '--thread', 'a'.repeat(64)],
    ]) {
      const r = await runCli(['journalist', args[0]!, '--server', url, '--token-file', file, ...args.slice(1)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--token-file ${file} is not a tipline API token (${why}); nothing was sent`);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      // Not a line of the file appears in what the CLI prints.
      for (const line of content.split('\n').filter((l) => l.length > 8)) expect(r.stderr + r.stdout).not.toContain(line.slice(0, 20));
    }
    expect(connections).toBe(0);
  });

  it('accepts a well-formed token with a trailing newline (and then reaches the server)', async () => {
    const file = join(root, 'token');
    await writeFile(file, `tl_${'A'.repeat(22)}_${'A'.repeat(43)}\n`, { mode: 0o600 });
    const r = await runCli(['journalist', 'fetch', '--server', url, '--token-file', file, '--out', join(root, 'out2')]);
    expect(r.code).toBe(1);
    expect(connections).toBeGreaterThan(0);
  });
});
