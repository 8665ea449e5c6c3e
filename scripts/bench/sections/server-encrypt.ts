/**
 * server-encrypt: tips a second the server can encrypt for sources with
 * JavaScript off (the no-JavaScript form): the tip document, padded, encrypted
 * with openpgp.js in memory to the three journalist keys (RSA-4096 and two
 * cv25519), as TipIntake.encryptAndStore does. The baseline is the model
 * SecureDrop used: one `gpg --encrypt` process per tip, to the same keys, with
 * the same padded bytes. Both run one tip at a time for a fixed time.
 * Storage is left out of both: it is the same for either model.
 */
import { encryptToKeys } from '../../../crypto/envelope.ts';
import type { BenchContext } from '../context.ts';
import { higherIsBetter, round, type SectionResult } from '../result.ts';
import { samplePaddedTip } from '../sample-tip.ts';

const WARM_UP = 3;

export async function serverEncryptSection(ctx: BenchContext): Promise<SectionResult> {
  const s = ctx.sizes.serverEncrypt;
  const keys = await ctx.keys();
  const plaintext = samplePaddedTip();
  const node = await tipsPerSecond(s, () => encryptToKeys(plaintext, keys.publicKeys));
  ctx.log(`server-encrypt: openpgp.js ${Math.round(node.perSecond)} tips/s`);
  const gpg = await tipsPerSecond(s, () => keys.gpg.encrypt(plaintext, keys.fingerprints));
  ctx.log(`server-encrypt: gpg ${Math.round(gpg.perSecond)} tips/s`);
  return higherIsBetter({
    value: node.perSecond,
    baseline: gpg.perSecond,
    unit: 'tips/s',
    target: '≥ 5×',
    minRatio: 5,
    details: {
      'ms per tip': `${round(1000 / node.perSecond)} vs ${round(1000 / gpg.perSecond)}`,
      tips: `${node.count} vs ${gpg.count}`,
      plaintext: `${plaintext.length} bytes (padded)`,
    },
  });
}

/** Runs `encryptOne` one at a time until `seconds` pass or `maxTips` are done. */
async function tipsPerSecond(s: { seconds: number; maxTips: number }, encryptOne: () => Promise<unknown>): Promise<{ perSecond: number; count: number }> {
  for (let i = 0; i < WARM_UP; i++) await encryptOne();
  const started = performance.now();
  const until = started + s.seconds * 1000;
  let count = 0;
  while (count < s.maxTips && performance.now() < until) {
    await encryptOne();
    count++;
  }
  return { perSecond: count / ((performance.now() - started) / 1000), count };
}
