/**
 * What a tipline backup holds, and the only names a restore accepts. Both the
 * writer and the reader use this file, so the rule for "which paths may come
 * out of an archive" lives in one place.
 *
 * A backup is a ustar archive (`tar-format.ts`) with, in this order:
 *
 * - `config.json`: the newsroom *public* key and settings;
 * - `tipline.db`: a consistent SQLite snapshot;
 * - `blobs/` and the files under it: attachment ciphertext, if there is any;
 * - `tipline-backup.json`, last: the format, the day, and every file's size
 *   and SHA-256, so a restore can tell a damaged or cut-short copy.
 *
 * Everything in it is OpenPGP ciphertext (tips, attachments, replies), hashes
 * (conversation ids, API tokens), or public (journalists' names and public
 * keys, signed manifests, the admin audit log). The newsroom signing key is
 * never in the data directory, so never in a backup; the proof-of-work key is
 * left out and the restored server makes a new one.
 */
import { isAbsolute } from 'node:path';
import type { TarEntryType } from './tar-format.ts';

export const BACKUP_FORMAT = 'tipline-backup/1';
export const CONFIG_ENTRY = 'config.json';
export const DATABASE_ENTRY = 'tipline.db';
export const BLOBS_ENTRY = 'blobs';
export const MANIFEST_ENTRY = 'tipline-backup.json';

export type BackupManifest = {
  format: typeof BACKUP_FORMAT;
  /** YYYY-MM-DD (UTC), like every date tipline keeps. */
  createdDay: string;
  files: { path: string; size: number; sha256: string }[];
};

export class BackupError extends Error {
  override name = 'BackupError';
}

/** One path component: letters, digits, `.`, `_`, `-`; not starting with a dot (so never `.` or `..`). */
const SAFE_COMPONENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/**
 * Checks a name read from an archive: relative, no `..`, no odd characters,
 * and one of the things a backup holds. Throws BackupError naming the entry.
 */
export function checkEntryName(name: string, type: TarEntryType): void {
  const refuse = (why: string): never => {
    throw new BackupError(`refusing the backup: the entry "${name}" ${why}`);
  };
  if (name.length === 0) refuse('has no name');
  if (isAbsolute(name) || name.startsWith('/') || name.includes('\\')) refuse('is an absolute path');
  const parts = name.split('/');
  if (parts.some((p) => p === '..')) refuse('climbs out of the folder (..)');
  if (!parts.every((p) => SAFE_COMPONENT.test(p))) refuse('has characters a backup never uses');
  const [top] = parts;
  if (type === 'file' && parts.length === 1 && (top === CONFIG_ENTRY || top === DATABASE_ENTRY || top === MANIFEST_ENTRY)) return;
  if (top === BLOBS_ENTRY && (type === 'directory' || parts.length > 1)) return;
  refuse('is not part of a tipline backup');
}

/** Parses and checks the archive's own manifest. */
export function parseBackupManifest(text: string): BackupManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BackupError(`refusing the backup: ${MANIFEST_ENTRY} is not valid JSON`);
  }
  const m = parsed as BackupManifest;
  if (m?.format !== BACKUP_FORMAT) throw new BackupError(`refusing the backup: it is not a ${BACKUP_FORMAT} archive made by tipline admin backup`);
  if (
    !Array.isArray(m.files) ||
    !m.files.every((f) => typeof f?.path === 'string' && Number.isSafeInteger(f.size) && typeof f.sha256 === 'string' && /^[0-9a-f]{64}$/.test(f.sha256))
  ) {
    throw new BackupError(`refusing the backup: ${MANIFEST_ENTRY} is malformed`);
  }
  return m;
}
