/**
 * The passphrase prompt: `decrypt --key` with a protected key and no
 * `--passphrase-file` asks on the terminal. Run under a real pseudo-terminal
 * (Python's pty module), the typed passphrase must not come back on the
 * terminal (no echo) and must unlock the key; a wrong one fails with a
 * one-line message, and without a terminal the CLI says how to give it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../crypto/bytes.ts';
import { encryptToKeys } from '../crypto/envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { readDecryptedMessages } from './helpers/browser.ts';
import { runCli, TIPLINE_BIN } from './helpers/server-process.ts';

const PASSPHRASE = 'Ölçüm horse 档案 9';
const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import pty']);
    return true;
  } catch {
    return false;
  }
})();

/** Runs the CLI on a pseudo-terminal; types the line in `answerFile` once the prompt shows. Returns all the terminal showed. */
const PTY_DRIVER = `
import os, pty, select, sys, time
answer = open(sys.argv[1], 'rb').read()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
seen, sent = b'', False
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready: break
    try: data = os.read(fd, 4096)
    except OSError: break
    if not data: break
    seen += data
    if not sent and b'Passphrase for' in seen:
        time.sleep(0.3); os.write(fd, answer + b'\\r'); sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
`;

let root: string;
let keyFile: string;
let inbox: string;

function onPty(answer: string, args: string[]): Promise<{ code: number; screen: string }> {
  return new Promise((resolve, reject) => {
    const answerFile = join(root, `answer-${randomId()}`);
    writeFile(answerFile, answer)
      .then(() => {
        const child = spawn('python3', ['-c', PTY_DRIVER, answerFile, process.execPath, TIPLINE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let screen = '';
        child.stdout.on('data', (d) => (screen += d));
        child.on('exit', (code) => resolve({ code: code ?? -1, screen }));
      })
      .catch(reject);
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-prompt-'));
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'J', email: 'j@example.org' }], passphrase: PASSPHRASE, format: 'armored' });
  keyFile = join(root, 'secret.asc');
  await writeFile(keyFile, privateKey, { mode: 0o600 });
  inbox = join(root, 'inbox');
  await mkdir(inbox);
  const doc = encodeTipDocument({ type: 'tip', message: 'unlocked at the prompt', fields: {} });
  await writeFile(join(inbox, `${randomId()}.gpg`), await encryptToKeys(padToBucket(doc), [await openpgp.readKey({ armoredKey: publicKey })]));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe.skipIf(!hasPython)('decrypt --key asks for a protected key\'s passphrase on the terminal', () => {
  it('unlocks the key with what is typed, and never echoes it', async () => {
    const out = join(root, 'read');
    const r = await onPty(PASSPHRASE, ['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toContain('Passphrase for secret.asc: ');
    expect(r.screen).toContain('1 message(s) decrypted');
    // Neither the passphrase nor any piece of it is shown (a terminal that echoed would show it right after the prompt).
    expect(r.screen).not.toContain(PASSPHRASE);
    expect(r.screen).not.toContain('horse');
    expect((await readDecryptedMessages(out)).map((m) => m.message)).toEqual(['unlocked at the prompt']);
  }, 60_000);

  it('fails with one line, writing nothing, when the passphrase typed is wrong', async () => {
    const out = join(root, 'read-wrong');
    const r = await onPty('not it', ['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.screen).toContain(`cannot unlock the secret key in ${keyFile}: wrong passphrase`);
    expect(r.screen).not.toMatch(/\n\s+at /);
    expect(r.screen).not.toContain('not it');
    expect(await readDecryptedMessages(out).catch(() => [])).toEqual([]);
  }, 60_000);
});

describe('without a terminal', () => {
  it('says to run it in a terminal or give --passphrase-file, and reads nothing from stdin', async () => {
    const r = await runCli(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', join(root, 'read-none')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is protected by a passphrase');
    expect(r.stderr).toContain('--passphrase-file');
  });
});
