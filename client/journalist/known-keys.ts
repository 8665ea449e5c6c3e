/**
 * Every journalist key this inbox folder has seen in a verified manifest, by
 * journalist id: `known-keys.json` beside the pinned newsroom key.
 *
 * `rekey` needs it to tell a journalist's replaced key from a stranger's. A tip
 * encrypted to Bea's old key is still Bea's to read once her new key replaces
 * it, but a key that belonged to no one the folder has seen would be a new
 * reader, which only the tip itself (or the journalist, with a flag) may add.
 * The current manifest alone can't say whose an old key was, and the manifest
 * saved by the last fetch is replaced by every newer one.
 *
 * Only keys of manifests that checked against the pinned newsroom key are
 * written here; the file holds key IDs and ids, nothing secret.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encryptionKeyIdOf, readPublicKey } from '../../crypto/envelope.ts';
import type { Manifest } from '../../crypto/manifest.ts';
import { writeFileAtomic } from './files.ts';

export const KNOWN_KEYS_FILE = 'known-keys.json';

const KEY_ID_RE = /^[0-9a-f]{16}$/;

type KnownKeys = { format: 'tipline-known-keys/1'; owners: Record<string, string> };

/** Key ID (16 lowercase hex) → journalist id, as far as this folder knows. Empty when nothing is recorded or the file is unreadable. */
export async function knownKeyOwners(inboxDir: string): Promise<Map<string, string>> {
  try {
    const file = JSON.parse(await readFile(join(inboxDir, KNOWN_KEYS_FILE), 'utf8')) as Partial<KnownKeys>;
    if (file.format !== 'tipline-known-keys/1' || typeof file.owners !== 'object' || file.owners === null) return new Map();
    return new Map(Object.entries(file.owners).filter(([k, v]) => KEY_ID_RE.test(k) && typeof v === 'string'));
  } catch {
    return new Map();
  }
}

/** Adds the encryption keys of verified `manifests` to the folder's record; a key already recorded keeps its first owner. */
export async function rememberKeys(inboxDir: string, manifests: (Manifest | undefined)[]): Promise<void> {
  const owners = await knownKeyOwners(inboxDir);
  const before = owners.size;
  for (const manifest of manifests) {
    if (!manifest) continue;
    for (const r of manifest.recipients) {
      const keyId = await keyIdOf(r.publicKey, manifest.issued);
      if (keyId && !owners.has(keyId)) owners.set(keyId, r.id);
    }
  }
  if (owners.size === before) return;
  const file: KnownKeys = { format: 'tipline-known-keys/1', owners: Object.fromEntries([...owners].sort(([a], [b]) => (a < b ? -1 : 1))) };
  await writeFileAtomic(join(inboxDir, KNOWN_KEYS_FILE), `${JSON.stringify(file, null, 2)}\n`);
}

/** The key ID tips name for `armored`: as of now, or, for a key that expired since, as of the end of its manifest's issue day. */
async function keyIdOf(armored: string, issued: string): Promise<string | undefined> {
  try {
    const key = await readPublicKey(armored);
    return await encryptionKeyIdOf(key).catch(() => encryptionKeyIdOf(key, new Date(`${issued}T23:59:59Z`)));
  } catch {
    return undefined; // a key that can't be read names no one
  }
}
