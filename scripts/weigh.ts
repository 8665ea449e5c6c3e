/**
 * `npm run weigh`: prints what each source page weighs, against the budgets
 * (landing page and no-JavaScript form ≤ 20 KB as served; with JavaScript,
 * ≤ 120 KB gzipped before the source can type).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { addJournalist, initNewsroom } from '../server/admin/newsroom.ts';
import { createApp } from '../server/app.ts';
import { readDataDir } from '../server/data-dir.ts';
import { openDatabase } from '../server/db/open-database.ts';
import { loadStaticFiles } from '../server/http/static-files.ts';
import { publicDir } from '../cli/paths.ts';
import { measurePageWeights } from './page-weight.ts';

export const BUDGET_NO_JS_BYTES = 20_000;
export const BUDGET_WITH_JS_GZIP = 120_000;

const root = await mkdtemp(join(tmpdir(), 'tipline-weigh-'));
try {
  const dataDir = join(root, 'data');
  const signingKeyFile = join(root, 'newsroom.key');
  await initNewsroom({ dataDir, signingKeyFile });
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'w@example.org' }], format: 'armored' });
  await addJournalist({ dataDir, signingKeyFile, name: 'Weigher', armoredKey: publicKey });
  const dir = await readDataDir(dataDir);
  const db = await openDatabase(dir.dbFile);
  const app = await createApp({ db, blobDir: dir.blobDir, newsroomPublicKey: dir.newsroomPublicKey, staticFiles: await loadStaticFiles(publicDir()) });
  const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
  console.log('| page | without JS (as served) | with JS before typing (gzip) | lazy chunks, loaded only when needed (gzip) |');
  console.log('|---|---|---|---|');
  for (const w of await measurePageWeights((p) => app.request(p))) {
    const ok1 = w.withoutJs.raw <= BUDGET_NO_JS_BYTES ? 'ok' : 'OVER';
    const ok2 = w.withJs.gzip <= BUDGET_WITH_JS_GZIP ? 'ok' : 'OVER';
    console.log(`| ${w.path} | ${kb(w.withoutJs.raw)} (${ok1}, budget 20 KB) | ${kb(w.withJs.gzip)} (${ok2}, budget 120 KB) | ${kb(w.lazy.gzip)} |`);
  }
  await db.destroy();
} finally {
  await rm(root, { recursive: true, force: true });
}
