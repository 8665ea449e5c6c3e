/**
 * journalist: how long the journalist tool takes to fetch N tips of 4 KiB from
 * the server and decrypt them (client/journalist: fetchTips, then decryptTips,
 * which writes a folder per tip), against `gpg --decrypt` of the same fetched
 * files, one process per file, writing each plaintext to a file. Both decrypt
 * with the same single cv25519 key (gpg's home holds only that secret key).
 * It also times `decrypt --gpg` (session keys from gpg-agent through one gpg
 * process, the data streamed by openpgp.js) on the same files: the issue's
 * target for it is ≥ 2× faster than the gpg loop.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decryptTips } from '../../../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../../../client/journalist/fetch-tips.ts';
import { openGpgSessionKeys } from '../../../client/journalist/gpg-session-keys.ts';
import { encryptToKeys } from '../../../crypto/envelope.ts';
import { makeBenchNewsroom } from '../bench-newsroom.ts';
import { bulkInsertTips } from '../bulk-tips.ts';
import type { BenchContext } from '../context.ts';
import { lowerIsBetter, round, type SectionResult } from '../result.ts';
import { samplePaddedTip } from '../sample-tip.ts';

export async function journalistSection(ctx: BenchContext): Promise<SectionResult> {
  const count = ctx.sizes.journalist.tips;
  const keys = await ctx.keys();
  const newsroom = await makeBenchNewsroom(ctx.workDir, keys);
  // Every tip its own ciphertext, as if from a different source.
  const ciphertexts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) ciphertexts.push(await encryptToKeys(samplePaddedTip(`Tip number ${i}: what I saw.`), keys.publicKeys));
  await bulkInsertTips(newsroom.dbFile, { count, ciphertext: (i) => ciphertexts[i]! });

  const inbox = join(ctx.workDir, 'journalist-inbox');
  const read = join(ctx.workDir, 'journalist-read');
  const server = await ctx.startServer(['app', newsroom.dataDir, '0']);
  let fetchSeconds: number;
  let decryptSeconds: number;
  try {
    let started = performance.now();
    const fetched = await fetchTips({ server: server.url, token: newsroom.readerToken, outDir: inbox });
    fetchSeconds = (performance.now() - started) / 1000;
    if (fetched.fetched !== count) throw new Error(`fetched ${fetched.fetched} of ${count} tips`);
    started = performance.now();
    const decrypted = await decryptTips({ key: keys.reader.privateKey, inDir: inbox, outDir: read });
    decryptSeconds = (performance.now() - started) / 1000;
    if (decrypted.decrypted.length !== count) throw new Error(`decrypted ${decrypted.decrypted.length} of ${count} tips: ${decrypted.failed[0]?.reason}`);
  } finally {
    await server.stop();
  }
  ctx.log(`journalist: fetch ${round(fetchSeconds)} s, decrypt ${round(decryptSeconds)} s`);

  const viaAgent = await openGpgSessionKeys({ homedir: keys.reader.gpg.home });
  let agentSeconds: number;
  try {
    const started = performance.now();
    const decrypted = await decryptTips({ key: viaAgent, inDir: inbox, outDir: join(ctx.workDir, 'journalist-read-gpg-agent') });
    agentSeconds = (performance.now() - started) / 1000;
    if (decrypted.decrypted.length !== count) throw new Error(`decrypt --gpg: decrypted ${decrypted.decrypted.length} of ${count} tips: ${decrypted.failed[0]?.reason}`);
  } finally {
    await viaAgent.close();
  }
  ctx.log(`journalist: decrypt --gpg ${round(agentSeconds)} s`);

  const gpgOut = join(ctx.workDir, 'journalist-gpg');
  await mkdir(gpgOut);
  const files = (await readdir(inbox)).filter((f) => f.endsWith('.gpg'));
  const started = performance.now();
  for (const file of files) await keys.reader.gpg.decryptFile(join(inbox, file), join(gpgOut, `${file}.txt`));
  const gpgSeconds = (performance.now() - started) / 1000;
  ctx.log(`journalist: gpg ${round(gpgSeconds)} s`);
  const toolSeconds = fetchSeconds + decryptSeconds;
  return lowerIsBetter({
    value: toolSeconds,
    baseline: gpgSeconds,
    unit: 's',
    target: '≥ 3× faster',
    minRatio: 3,
    details: {
      tips: count,
      'fetch s': round(fetchSeconds),
      'decrypt s': round(decryptSeconds),
      'decrypt only, × faster than gpg': round(gpgSeconds / decryptSeconds),
      'decrypt --gpg s': round(agentSeconds),
      'decrypt --gpg, × faster than gpg (target ≥ 2×)': round(gpgSeconds / agentSeconds),
    },
  });
}
