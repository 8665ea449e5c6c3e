/**
 * The secret key that `decrypt` and `rekey` work with, from their options:
 *
 * - `--key FILE [--passphrase-file FILE]`: an exported armored secret key,
 *   unlocked here; when it is protected and no passphrase file is given, the
 *   passphrase is asked for on the terminal, with no echo;
 * - `--gpg [--gpg-homedir DIR]`: the journalist's GnuPG keyring or smartcard,
 *   through gpg-agent (gpg-session-keys.ts); the key never leaves it.
 *
 * Either way the commands get a session key source (crypto/session-key.ts).
 *
 * @example
 * const keys = await secretKeyFromOptions({ gpg: true, 'gpg-homedir': undefined, key: undefined, 'passphrase-file': undefined });
 * try { await decryptTips({ key: keys, inDir, outDir }); } finally { await keys.close(); }
 */
import { basename } from 'node:path';
import * as openpgp from 'openpgp';
import { readSecretFile, readTextFile, UsageError } from '../../cli/args.ts';
import { privateKeySource, type SessionKeySource } from '../../crypto/session-key.ts';
import { GpgUnavailableError, openGpgSessionKeys } from './gpg-session-keys.ts';
import { promptPassphrase, PromptUnavailableError } from './passphrase-prompt.ts';

export const SECRET_KEY_OPTIONS = {
  key: { type: 'string' },
  'passphrase-file': { type: 'string' },
  gpg: { type: 'boolean' },
  'gpg-homedir': { type: 'string' },
} as const;

export type SecretKeyOptions = { key: string | undefined; 'passphrase-file': string | undefined; gpg: boolean; 'gpg-homedir': string | undefined };

export async function secretKeyFromOptions(o: SecretKeyOptions, usage: string): Promise<SessionKeySource> {
  if ((o.key === undefined) === !o.gpg) throw new UsageError(`give the secret key with exactly one of --key FILE or --gpg\n\n${usage}`);
  if (o.gpg) {
    if (o['passphrase-file'] !== undefined) throw new UsageError('--passphrase-file goes with --key; with --gpg, gpg-agent asks for the passphrase or PIN itself');
    try {
      return await openGpgSessionKeys(o['gpg-homedir'] ? { homedir: o['gpg-homedir'] } : {});
    } catch (e) {
      if (e instanceof GpgUnavailableError) throw new UsageError(e.message);
      throw e;
    }
  }
  if (o['gpg-homedir'] !== undefined) throw new UsageError('--gpg-homedir goes with --gpg');
  return privateKeySource(await unlockKeyFile(o.key!, o['passphrase-file']), `the key in ${o.key}`);
}

/** Reads `--key` and unlocks it: with `--passphrase-file`, or by asking on the terminal. */
async function unlockKeyFile(keyFile: string, passphraseFile: string | undefined): Promise<openpgp.PrivateKey> {
  const armored = await readTextFile(keyFile, 'secret key');
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (e) {
    throw new UsageError(`cannot use the secret key in ${keyFile}: ${(e as Error).message}`);
  }
  if (key.isDecrypted()) return key;
  let passphrase: string;
  if (passphraseFile !== undefined) passphrase = await readSecretFile(passphraseFile, 'passphrase');
  else {
    try {
      passphrase = await promptPassphrase(`Passphrase for ${basename(keyFile)}: `);
    } catch (e) {
      if (e instanceof PromptUnavailableError) {
        throw new UsageError(`the secret key in ${keyFile} is protected by a passphrase and ${e.message}: run this in a terminal to be asked, or give --passphrase-file FILE`);
      }
      throw e;
    }
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch {
    throw new UsageError(`cannot unlock the secret key in ${keyFile}: wrong passphrase`);
  }
}
