/**
 * `tipline journalist fetch`: downloads tip ciphertext from the server into a
 * local folder, one `<id>.gpg` (the OpenPGP message, exactly as stored) and one
 * `<id>.json` (day received, how it was encrypted) per tip. Incremental: a tip
 * whose `.gpg` is already there is not downloaded again. Each file is written
 * through a temporary name and renamed, so an interrupted run leaves no half file.
 *
 * @example
 * await fetchTips({ server: 'http://127.0.0.1:8080', token, outDir: 'inbox' });
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JournalistClientError, JournalistApi } from './journalist-api.ts';
import { exists } from './files.ts';

export type FetchResult = { fetched: number; alreadyHad: number };

export async function fetchTips(o: {
  server: string;
  token: string;
  outDir: string;
  log?: (line: string) => void;
}): Promise<FetchResult> {
  const api = new JournalistApi(o.server, o.token);
  const log = o.log ?? (() => {});
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  let cursor: string | null = null;
  let fetched = 0;
  let alreadyHad = 0;
  do {
    const page = await api.listTips(cursor);
    for (const tip of page.tips) {
      const gpgFile = join(o.outDir, `${tip.id}.gpg`);
      if (await exists(gpgFile)) {
        alreadyHad++;
        continue;
      }
      const bytes = await api.getTip(tip.id);
      await writeAtomic(join(o.outDir, `${tip.id}.json`), `${JSON.stringify(tip, null, 2)}\n`);
      // The .gpg file is written last: its presence means "this tip is complete here".
      await writeAtomic(gpgFile, bytes);
      fetched++;
      log(`fetched ${tip.id} (received ${tip.receivedDay}, encrypted by the ${tip.via})`);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return { fetched, alreadyHad };
}

async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.partial`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, file);
}

export { JournalistClientError };
