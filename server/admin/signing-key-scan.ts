/**
 * Recognises a newsroom signing key file by its contents, whatever it is
 * called: the key must stay offline, so `doctor` looks for a copy in the data
 * directory and `backup` refuses to archive one. A key file is a few hundred
 * bytes of JSON naming its kind (see signing-key-file.ts); bigger files are
 * not read, so scanning a folder of large attachments stays cheap.
 *
 * @example
 * if (await containsSigningKey('/srv/tipline/blobs/x')) throw new Error('a signing key is on the server');
 */
import { lstat, open } from 'node:fs/promises';

/** The marker every signing key file carries (`"kind": "tipline-newsroom-signing-key"`). */
export const SIGNING_KEY_MARKER = 'tipline-newsroom-signing-key';

/** Files larger than this are not key files (a key file is about 400 bytes). */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** Whether `path` is a regular file (not followed if a link) that holds a signing key. */
export async function containsSigningKey(path: string): Promise<boolean> {
  // lstat first: opening a FIFO would block, and a link is reported on its own by doctor.
  const before = await lstat(path).catch(() => undefined);
  if (!before?.isFile() || before.size > MAX_KEY_FILE_BYTES) return false;
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return false;
  try {
    const text = new TextDecoder().decode(await file.readFile());
    return text.includes(SIGNING_KEY_MARKER) && text.includes('secretKey');
  } finally {
    await file.close();
  }
}
