/**
 * A journalist key that lives only in a throwaway GNUPGHOME, protected by a
 * passphrase, and is never exported: the way a journalist keeps theirs. Its
 * gpg-agent asks a pinentry stub for the passphrase (as it would ask the
 * journalist through their pinentry), and the stub notes each time it is asked.
 *
 * @example
 * const j = await makeAgentKey(dir, 'correct horse 7');
 * await runCli(['journalist', 'decrypt', '--gpg', '--gpg-homedir', j.home, ...]);
 * await j.pinentryAsked(); // 1
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encryptionKeyIdOf, readPublicKey, type PublicKey } from '../../crypto/envelope.ts';

const run = promisify(execFile);

export type AgentKey = {
  home: string;
  email: string;
  armoredPublic: string;
  publicKey: PublicKey;
  keyId: string;
  /** What the pinentry stub answers from now on (the agent forgets what it cached). */
  setPinentryAnswer: (passphrase: string) => Promise<void>;
  /** How many times gpg-agent has asked the pinentry stub for the passphrase. */
  pinentryAsked: () => Promise<number>;
  /** Stops the agent, so that it has no passphrase cached. */
  forget: () => Promise<void>;
};

export async function makeAgentKey(dir: string, passphrase: string, email = 'g@example.org'): Promise<AgentKey> {
  const home = join(dir, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  const answerFile = join(dir, 'pinentry-answer');
  const askedLog = join(dir, 'pinentry-asked.log');
  const stub = join(dir, 'pinentry-stub.sh');
  // The Assuan exchange a pinentry has with gpg-agent, reduced to what it needs: OK to everything, the passphrase for GETPIN.
  await writeFile(
    stub,
    `#!/bin/sh\necho "OK pinentry stub"\nwhile IFS= read -r line; do\n  case "$line" in\n    GETPIN*) echo asked >> '${askedLog}'; printf 'D %s\\n' "$(cat '${answerFile}')"; echo OK;;\n    BYE*) echo OK; exit 0;;\n    *) echo OK;;\n  esac\ndone\n`,
  );
  await chmod(stub, 0o755);
  await writeFile(answerFile, passphrase, { mode: 0o600 });
  await writeFile(join(home, 'gpg-agent.conf'), `pinentry-program ${stub}\n`);
  const gpg = (args: string[]) => run('gpg', ['--homedir', home, '--batch', ...args]);
  // Made with the passphrase given on the loopback, once; from then on only the agent's pinentry is asked.
  const loopback = ['--pinentry-mode', 'loopback', '--passphrase', passphrase];
  await gpg([...loopback, '--quick-gen-key', `Journalist G <${email}>`, 'ed25519', 'sign', '1y']);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec((await gpg(['--with-colons', '--list-keys', email])).stdout)![1]!;
  await gpg([...loopback, '--quick-add-key', fpr, 'cv25519', 'encrypt', '1y']);
  const forget = async () => {
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => {});
  };
  await forget();
  const armoredPublic = (await gpg(['--armor', '--export', email])).stdout;
  const publicKey = await readPublicKey(armoredPublic);
  return {
    home,
    email,
    armoredPublic,
    publicKey,
    keyId: await encryptionKeyIdOf(publicKey),
    setPinentryAnswer: async (answer) => {
      await writeFile(answerFile, answer, { mode: 0o600 });
      await forget();
    },
    pinentryAsked: async () => (await readFile(askedLog, 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
    forget,
  };
}
