/**
 * `--gpg`: session keys from the journalist's own GnuPG, so a secret key in
 * the keyring or on an OpenPGP smartcard is used where it is and never leaves
 * it. gpg-agent asks for the passphrase or PIN through pinentry, as the
 * journalist's gpg is set up to (once per agent cache, not once per tip).
 *
 * What gpg sees of a message is only its key packets and a stand-in data
 * packet holding the real one's first 19 bytes (version and the 18-byte
 * quick-check prefix): never any content. gpg prints the session key
 * (`--show-session-key`, as `SESSION_KEY algo:hex` on its status output) and
 * then fails on the cut data, as intended; openpgp.js decrypts the real data
 * with that session key, streaming, at its own speed.
 *
 * One gpg process serves a whole run: `gpg --decrypt-files` with no file
 * arguments reads file names from its standard input, one per line, and
 * handles each as it comes. That saves gpg's start-up (several milliseconds)
 * per message, which is what makes this faster than one `gpg --decrypt` per
 * tip. The heads go into a private temporary folder (0700) that is removed on
 * close; they are ciphertext only.
 *
 * @example
 * const keys = await openGpgSessionKeys({ homedir: process.env.GNUPGHOME });
 * try {
 *   await decryptTips({ key: keys, inDir: 'inbox', outDir: 'read' });
 * } finally {
 *   await keys.close();
 * }
 */
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { concatBytes, hex } from '../../crypto/bytes.ts';
import type { MessageHead } from '../../crypto/packets.ts';
import { SessionKeyError, type AesName, type SessionKey, type SessionKeySource } from '../../crypto/session-key.ts';

const run = promisify(execFile);

/** gpg's numbers for the symmetric ciphers (RFC 4880 §9.2); only AES is accepted. */
const GPG_CIPHERS: Record<string, AesName> = { '7': 'aes128', '8': 'aes192', '9': 'aes256' };

/** gpg could not be started or used at all (not installed, bad home folder). */
export class GpgUnavailableError extends Error {
  override name = 'GpgUnavailableError';
}

export type GpgSessionKeyOptions = {
  /** GNUPGHOME to use; gpg's own default (GNUPGHOME, else ~/.gnupg) when absent. */
  homedir?: string;
  /** The gpg program; `gpg` on PATH by default. */
  gpgPath?: string;
};

/** What gpg said about one head: the status lines between FILE_START and FILE_DONE, and its log lines. */
type Answer = { status: string[]; log: string[] };

/**
 * Opens a session key source backed by gpg. Lists the secret keys first (so a
 * missing gpg or empty keyring is reported at once, before anything is read).
 */
export async function openGpgSessionKeys(o: GpgSessionKeyOptions = {}): Promise<SessionKeySource> {
  const gpgPath = o.gpgPath ?? 'gpg';
  const base = [...(o.homedir ? ['--homedir', o.homedir] : []), '--batch', '--no-greeting'];
  const env = pinentryEnvironment();
  const keyIds = await listSecretKeyIds(gpgPath, base, env);
  if (keyIds.size === 0) {
    throw new GpgUnavailableError(`gpg has no secret keys${o.homedir ? ` in ${o.homedir}` : ''}: import yours, plug in your smartcard (then run gpg --card-status once), or give --gpg-homedir`);
  }
  const workDir = await mkdtemp(join(tmpdir(), 'tipline-gpg-heads-'));
  let child: ChildProcessWithoutNullStreams | undefined;
  let closed = false;
  let exited: Error | undefined;
  let counter = 0;
  // One head at a time: gpg answers in order, and this keeps pinentry to one prompt.
  let queue: Promise<unknown> = Promise.resolve();
  let waiting: ((answer: Answer | Error) => void) | undefined;
  let current: Answer | undefined;
  const log: string[] = [];

  const start = (): ChildProcessWithoutNullStreams => {
    const proc = spawn(gpgPath, [...base, '--status-fd', '1', '--show-session-key', '--decrypt-files'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    proc.on('error', (e) => fail(new GpgUnavailableError(`could not run ${gpgPath}: ${e.message}`)));
    proc.on('exit', () => fail(new GpgUnavailableError(`gpg stopped${log.length ? `: ${log.slice(-3).join(' / ')}` : ''}`)));
    proc.stdin.on('error', () => {});
    createInterface({ input: proc.stderr }).on('line', (line) => {
      log.push(line);
      if (log.length > 20) log.shift();
      current?.log.push(line);
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (!line.startsWith('[GNUPG:] ')) return;
      const status = line.slice(9);
      if (status.startsWith('FILE_START ')) current = { status: [], log: [] };
      else if (status === 'FILE_DONE' && current) {
        const done = current;
        current = undefined;
        const resolve = waiting;
        waiting = undefined;
        resolve?.(done);
      } else current?.status.push(status);
    });
    return proc;
  };
  const fail = (e: Error) => {
    exited ??= e;
    const resolve = waiting;
    waiting = undefined;
    resolve?.(e);
  };

  const ask = async (head: MessageHead): Promise<SessionKey> => {
    if (closed) throw new Error('the gpg session key source is closed');
    if (exited) throw exited;
    const name = `${++counter}.gpg`;
    const file = join(workDir, name);
    await writeFile(file, standInMessage(head), { mode: 0o600 });
    try {
      child ??= start();
      const answer = await new Promise<Answer | Error>((resolve) => {
        waiting = resolve;
        child!.stdin.write(`${file}\n`);
      });
      if (answer instanceof Error) throw answer;
      return sessionKeyFrom(answer);
    } finally {
      await rm(file, { force: true });
    }
  };

  return {
    label: 'your gpg keyring',
    keyIds: async () => keyIds,
    sessionKey(head) {
      const result = queue.then(() => ask(head));
      queue = result.catch(() => {});
      return result;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (child && child.exitCode === null) {
        const gone = new Promise((resolve) => child!.once('exit', resolve));
        child.stdin.end();
        await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
        if (child.exitCode === null) child.kill();
      }
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * The message gpg gets: the real key packets, then a new-format SEIPD packet
 * of 19 bytes (version 1 and the real 18-byte prefix), so gpg can unwrap the
 * session key and run its own quick check, and has no content to decrypt.
 */
function standInMessage(head: MessageHead): Uint8Array {
  if (head.quickCheck.length !== 18) throw new RangeError('quickCheck must be 18 bytes');
  return concatBytes(head.keyPackets, Uint8Array.of(0xc0 | 18, 19, 1), head.quickCheck);
}

/** The session key in gpg's answer, or why there is none, in words a journalist can act on. */
function sessionKeyFrom(answer: Answer): SessionKey {
  const line = answer.status.find((s) => s.startsWith('SESSION_KEY '));
  const m = line ? /^SESSION_KEY (\d+):([0-9A-Fa-f]+)$/.exec(line) : null;
  if (m) {
    const algorithm = GPG_CIPHERS[m[1]!];
    if (!algorithm) throw new SessionKeyError('unsupported-cipher', `the message is encrypted with cipher ${m[1]} (gpg's number), not AES, which this tool does not accept`);
    return { data: hex.decode(m[2]!.toLowerCase()), algorithm };
  }
  const said = answer.log.filter((l) => /^gpg: /.test(l) && !/encrypted with|^gpg: +"|checking the trustdb|marginals|depth:|next trustdb/.test(l)).map((l) => l.slice(5));
  if (answer.status.some((s) => s.startsWith('NO_SECKEY')) && !answer.status.some((s) => s.startsWith('DECRYPTION_KEY'))) {
    throw new SessionKeyError('not-for-this-key', 'gpg has no secret key this message is encrypted to');
  }
  if (said.some((l) => /cancel/i.test(l))) throw new SessionKeyError('cannot-decrypt', 'the passphrase or PIN prompt was cancelled');
  throw new SessionKeyError('cannot-decrypt', `gpg could not unwrap the session key${said.length ? ` (${said.slice(0, 2).join('; ')})` : ''}; is the right key in your keyring, or your smartcard plugged in?`);
}

/** Key IDs of every secret key and subkey gpg can use (on disk or on a card; not stubs of keys kept elsewhere). */
async function listSecretKeyIds(gpgPath: string, base: string[], env: NodeJS.ProcessEnv): Promise<Set<string>> {
  let stdout: string;
  try {
    ({ stdout } = await run(gpgPath, [...base, '--with-colons', '--list-secret-keys'], { env, maxBuffer: 16 * 1024 * 1024 }));
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new GpgUnavailableError('gpg is not installed (or not on PATH): install GnuPG, or use --key FILE');
    throw new GpgUnavailableError(`gpg could not list your secret keys: ${String(err.stderr ?? err.message).trim().split('\n').pop()}`);
  }
  const ids = new Set<string>();
  for (const line of stdout.split('\n')) {
    const f = line.split(':');
    // Field 15 is "#" for a stub whose secret is not here (kept offline, or exported without it).
    if ((f[0] === 'sec' || f[0] === 'ssb') && /^[0-9A-F]{16}$/i.test(f[4] ?? '') && f[14] !== '#') ids.add(f[4]!.toLowerCase());
  }
  return ids;
}

/**
 * gpg tells gpg-agent which terminal pinentry should use from GPG_TTY; its
 * own standard input is a pipe here, so it can't find out. When the journalist
 * runs this from a terminal, name it (as gpg's manual asks shells to do).
 */
function pinentryEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (!env.GPG_TTY && process.stdin.isTTY) {
    try {
      const tty = execFileSync('tty', { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
      if (tty.startsWith('/dev/')) env.GPG_TTY = tty;
    } catch {
      // No tty(1): a graphical pinentry still works.
    }
  }
  return env;
}
