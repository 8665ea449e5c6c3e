/**
 * browser-encrypt: MiB/s at which the source's browser encrypts a large
 * attachment (openpgp.js, streamed, to the three journalist keys) in headless
 * Chromium, against `gpg --encrypt --compress-algo none` of the same file to
 * the same keys. Neither writes its ciphertext anywhere (the page counts it,
 * gpg writes to /dev/null), so both measure encryption alone.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { PageEncryptResult } from '../browser/encrypt-in-page.ts';
import { startPageServer } from '../browser/page-server.ts';
import { writeRandomFile } from '../browser/random-file.ts';
import type { BenchContext } from '../context.ts';
import { higherIsBetter, notAvailable, round, type SectionResult } from '../result.ts';

const MiB = 1024 * 1024;
const TARGET = '≥ 0.5×';
const UNIT = 'MiB/s';
// Debian's Chromium (STACK.md), with the flags that keep it from phoning home.
const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export async function browserEncryptSection(ctx: BenchContext): Promise<SectionResult> {
  if (!existsSync(CHROMIUM_PATH)) return notAvailable({ unit: UNIT, target: TARGET }, `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium)`);
  const keys = await ctx.keys();
  const bytes = ctx.sizes.browserEncrypt.bytes;
  const file = join(ctx.workDir, 'browser-plaintext.bin');
  await writeRandomFile(file, bytes);
  try {
    const page = await startPageServer(ctx.workDir, file);
    let inPage: PageEncryptResult;
    try {
      const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
      try {
        const tab = await browser.newPage();
        await tab.goto(page.url);
        await tab.waitForFunction(() => 'benchEncrypt' in globalThis);
        inPage = await tab.evaluate(
          ([armored, dataUrl]) => (globalThis as unknown as { benchEncrypt: (k: string[], u: string) => Promise<PageEncryptResult> }).benchEncrypt(armored, dataUrl),
          [keys.keys.map((k) => k.armoredPublic), page.dataUrl] as const,
        );
      } finally {
        await browser.close();
      }
    } finally {
      await page.close();
    }
    if (inPage.plainBytes !== bytes) throw new Error(`the page encrypted ${inPage.plainBytes} bytes, not ${bytes}`);
    ctx.log(`browser-encrypt: Chromium ${Math.round(bytes / MiB / (inPage.ms / 1000))} MiB/s`);
    const started = performance.now();
    await keys.gpg.encryptFile(file, '/dev/null', keys.fingerprints);
    const gpgSeconds = (performance.now() - started) / 1000;
    ctx.log(`browser-encrypt: gpg ${Math.round(bytes / MiB / gpgSeconds)} MiB/s`);
    return higherIsBetter({
      value: bytes / MiB / (inPage.ms / 1000),
      baseline: bytes / MiB / gpgSeconds,
      unit: UNIT,
      target: TARGET,
      minRatio: 0.5,
      details: { seconds: `${round(inPage.ms / 1000)} vs ${round(gpgSeconds)}`, size: `${round(bytes / MiB)} MiB` },
    });
  } finally {
    await rm(file, { force: true });
  }
}
