/**
 * `tipline journalist decrypt`: opens fetched tips offline with the journalist's
 * own secret key. For each `<id>.gpg` it writes one folder, `<day>_<id>/`, holding:
 *
 * - `message.txt`: the source's message, exactly as sent;
 * - `fields.json`: any form fields;
 * - `meta.json`: the day received and who encrypted it (`browser`, or `server`
 *   when the source had JavaScript off and the server saw the plaintext).
 *
 * A folder is built under a temporary name and renamed into place, so a failed
 * or interrupted run leaves nothing half-written. An existing folder is never
 * overwritten; it is reported as already decrypted.
 *
 * @example
 * const key = await readPrivateKey(armored, passphrase);
 * await decryptTips({ key, inDir: 'inbox', outDir: 'tips' });
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decryptWithKey, type PrivateKey } from '../../crypto/envelope.ts';
import { decodeTipDocument } from '../../crypto/tip-document.ts';
import { exists } from './files.ts';
import type { RemoteTip } from './journalist-api.ts';

export type DecryptResult = { decrypted: string[]; alreadyDone: number; failed: { id: string; reason: string }[] };

const ID_RE = /^[A-Za-z0-9_-]{22}$/;

export async function decryptTips(o: { key: PrivateKey; inDir: string; outDir: string; log?: (line: string) => void }): Promise<DecryptResult> {
  const log = o.log ?? (() => {});
  const names = (await readdir(o.inDir)).filter((n) => n.endsWith('.gpg')).sort();
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const result: DecryptResult = { decrypted: [], alreadyDone: 0, failed: [] };
  for (const name of names) {
    const id = name.slice(0, -4);
    if (!ID_RE.test(id)) continue; // not something fetch wrote
    const info = await readInfo(join(o.inDir, `${id}.json`));
    const folder = join(o.outDir, `${info?.receivedDay ?? 'unknown-day'}_${id}`);
    if (await exists(folder)) {
      result.alreadyDone++;
      continue;
    }
    const partial = join(o.outDir, `.partial-${id}`);
    try {
      const plaintext = await decryptWithKey(new Uint8Array(await readFile(join(o.inDir, name))), o.key);
      const doc = decodeTipDocument(plaintext);
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { mode: 0o700 });
      await writeFile(join(partial, 'message.txt'), doc.message, { mode: 0o600 });
      await writeFile(join(partial, 'fields.json'), `${JSON.stringify(doc.fields, null, 2)}\n`, { mode: 0o600 });
      const meta = {
        id,
        type: doc.type,
        receivedDay: info?.receivedDay ?? null,
        receivedOn: info?.receivedDay ? `received on ${info.receivedDay}` : null,
        encryptedBy: info?.via ?? null,
        encryptedByNote:
          info?.via === 'server'
            ? 'The source had JavaScript off: the server saw the plaintext in memory and encrypted it on arrival.'
            : 'Encrypted in the source\'s browser: the server never saw the plaintext.',
        manifestVersion: info?.manifestVersion ?? null,
        language: doc.lang ?? null,
        desk: doc.desk ?? null,
      };
      await writeFile(join(partial, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
      await rename(partial, folder);
      result.decrypted.push(folder);
      log(`decrypted ${id} → ${folder}`);
    } catch (e) {
      await rm(partial, { recursive: true, force: true });
      const reason = describeFailure(e);
      result.failed.push({ id, reason });
      log(`could not decrypt ${id}: ${reason}`);
    }
  }
  return result;
}

async function readInfo(file: string): Promise<RemoteTip | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as RemoteTip;
  } catch {
    return undefined;
  }
}

function describeFailure(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (/Session key decryption failed|No decryption key packets found|Error decrypting message/i.test(message)) {
    return 'this tip is not encrypted to your key';
  }
  if (/Modification detected|MDC|integrity/i.test(message)) return 'the ciphertext was altered (integrity check failed)';
  return message;
}
