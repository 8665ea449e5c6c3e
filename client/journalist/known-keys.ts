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

/** `upTo`: the newest manifest version whose keys are recorded, so the same keys are not parsed again on every run. */
type KnownKeys = { format: 'tipline-known-keys/1'; upTo: number; owners: Record<string, string> };

/** What the folder records; nothing (version 0, no owners) when the file is missing, unreadable or not this format. */
async function readKnownKeys(inboxDir: string): Promise<{ upTo: number; owners: Map<string, string> }> {
  const nothing = { upTo: 0, owners: new Map<string, string>() };
  let file: Partial<KnownKeys>;
  try {
    file = JSON.parse(await readFile(join(inboxDir, KNOWN_KEYS_FILE), 'utf8')) as Partial<KnownKeys>;
  } catch {
    return nothing;
  }
  if (file?.format !== 'tipline-known-keys/1' || typeof file.owners !== 'object' || file.owners === null) return nothing;
  const owners = new Map(Object.entries(file.owners).filter(([k, v]) => KEY_ID_RE.test(k) && typeof v === 'string'));
  return { upTo: Number.isSafeInteger(file.upTo) ? file.upTo! : 0, owners };
}

/** Key ID (16 lowercase hex) → journalist id, as far as this folder knows. Empty when nothing is recorded or the file is unreadable. */
export async function knownKeyOwners(inboxDir: string): Promise<Map<string, string>> {
  return (await readKnownKeys(inboxDir)).owners;
}

/**
 * Adds the encryption keys of verified `manifests` to the folder's record; a
 * key already recorded keeps its first owner. Manifests no newer than the
 * last one recorded are skipped: their keys are there already.
 */
export async function rememberKeys(inboxDir: string, manifests: (Manifest | undefined)[]): Promise<void> {
  const { upTo, owners } = await readKnownKeys(inboxDir);
  const fresh = manifests.filter((m): m is Manifest => m !== undefined && m.version > upTo);
  if (fresh.length === 0) return;
  for (const manifest of fresh) {
    for (const r of manifest.recipients) {
      const keyId = await keyIdOf(r.publicKey, manifest.issued);
      if (keyId && !owners.has(keyId)) owners.set(keyId, r.id);
    }
  }
  const file: KnownKeys = {
    format: 'tipline-known-keys/1',
    upTo: Math.max(upTo, ...fresh.map((m) => m.version)),
    owners: Object.fromEntries([...owners].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
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
