/**
 * The fixture the attachment browser tests share: a newsroom with one
 * journalist, a real `tipline serve` on 127.0.0.1 (at a low proof-of-work
 * difficulty: the protocol is the same, the wait shorter), headless Chromium,
 * and folders for the journalist's inbox, the decrypted output and the files
 * the source picks.
 *
 * @example
 * const rig = await openBrowserNewsroom();
 * // … drive rig.browser against rig.server.url …
 * const messages = await rig.receive(); // fetch + decrypt, as the journalist would
 * await rig.close();
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';
import { decryptTips } from '../../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../../client/journalist/fetch-tips.ts';
import { launchChromium, readDecryptedMessages, type DecryptedMessage } from './browser.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './newsroom.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

export type BrowserNewsroom = {
  newsroom: TestNewsroom;
  journalist: TestJournalist;
  server: ServerProcess;
  browser: Browser;
  inboxDir: string;
  decryptedDir: string;
  filesDir: string;
  /** What the journalist gets: fetch, decrypt (which must not fail), and the new message folders. */
  receive: () => Promise<DecryptedMessage[]>;
  close: () => Promise<void>;
};

export async function openBrowserNewsroom(o: { powDifficulty?: number } = {}): Promise<BrowserNewsroom> {
  const newsroom = await makeNewsroom();
  const closers: (() => Promise<unknown>)[] = [() => newsroom.cleanup()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const journalist = await addTestJournalist(newsroom, 'Avery Reporter');
    const server = await startServerProcess(newsroom.dataDir, ['--pow-difficulty', String(o.powDifficulty ?? 8)]);
    closers.push(() => server.stop());
    const inboxDir = join(newsroom.root, 'inbox');
    const decryptedDir = join(newsroom.root, 'decrypted');
    const filesDir = join(newsroom.root, 'files');
    await mkdir(inboxDir, { recursive: true });
    await mkdir(filesDir, { recursive: true });
    const browser = await launchChromium();
    closers.push(() => browser.close());
    const receive = async () => {
      await fetchTips({ server: server.url, token: journalist.token, outDir: inboxDir });
      const result = await decryptTips({ key: journalist.privateKey, inDir: inboxDir, outDir: decryptedDir });
      expect(result.failed).toEqual([]);
      return (await Promise.all(result.decrypted.map((f) => readDecryptedMessages(f)))).flat();
    };
    return { newsroom, journalist, server, browser, inboxDir, decryptedDir, filesDir, receive, close };
  } catch (e) {
    await close();
    throw e;
  }
}
