/**
 * The release this server runs, as the source pages' footer shows it: the
 * package version and the SHA-256 of the asset lock written by `npm run build`.
 * It is there for people comparing with what the newsroom published; it is not
 * a security control (a tampered server can print anything here).
 *
 * @example
 * const release = await readRelease(); // { version: '0.1.0', assetLockSha256: '3f…' }
 */
import { readFile } from 'node:fs/promises';
import packageJson from '../package.json' with { type: 'json' };
import { sha256Hex } from '../crypto/asset-lock.ts';
import { assetLockFile } from '../cli/paths.ts';
import type { Release } from './source/page-assets.ts';

/** package.json's version, built in. */
export const RELEASE_VERSION: string = packageJson.version;

export async function readRelease(lockFile = assetLockFile()): Promise<Release> {
  let assetLockSha256: string | undefined;
  try {
    assetLockSha256 = sha256Hex(new Uint8Array(await readFile(lockFile)));
  } catch {
    // A build without a lock: the footer shows the version alone.
  }
  return { version: RELEASE_VERSION, assetLockSha256 };
}
