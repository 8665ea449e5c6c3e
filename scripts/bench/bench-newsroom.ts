/**
 * A fresh newsroom for one section: a data directory made by the real admin
 * code, with the three bench journalists registered, so the signed manifest
 * (and the keys the server insists on) are exactly the ones the baselines use.
 * Each section gets its own, so one section's tips don't weigh on another's.
 *
 * @example
 * const newsroom = await makeBenchNewsroom(root, keys);
 * const server = await startChildServer({ mode: 'app', dataDir: newsroom.dataDir });
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { addJournalist, initNewsroom } from '../../server/admin/newsroom.ts';
import { readDataDir } from '../../server/data-dir.ts';
import type { JournalistKeys } from './journalist-keys.ts';

export type BenchNewsroom = {
  dataDir: string;
  dbFile: string;
  blobDir: string;
  /** API token of the journalist who reads (keys.reader). */
  readerToken: string;
};

export async function makeBenchNewsroom(root: string, keys: JournalistKeys): Promise<BenchNewsroom> {
  const base = await mkdtemp(join(root, 'newsroom-'));
  const dataDir = join(base, 'data');
  const signingKeyFile = join(base, 'newsroom.key');
  await initNewsroom({ dataDir, signingKeyFile });
  let readerToken = '';
  for (const key of keys.keys) {
    const { token } = await addJournalist({ dataDir, signingKeyFile, name: key.email, armoredKey: key.armoredPublic });
    if (key === keys.reader.key) readerToken = token;
  }
  const dir = await readDataDir(dataDir);
  return { dataDir, dbFile: dir.dbFile, blobDir: dir.blobDir, readerToken };
}
