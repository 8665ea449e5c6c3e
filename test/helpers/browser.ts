/**
 * The browser side of the end-to-end tests: how Chromium is launched, how a
 * test gets a fresh context, and how a journalist's decrypted folders are read
 * back, whatever layout `decrypt` writes them in.
 *
 * @example
 * const browser = await launchChromium();
 * const context = await freshContext(browser, { javaScriptEnabled: false });
 * const tips = await readDecryptedMessages(decryptedDir);
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

// STACK.md: Debian's Chromium, never a downloaded one. These flags keep Chromium
// itself from phoning home (updates, sync) and keep it off QUIC, so the only traffic is
// the page's, and it starts quickly and reliably in a container.
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A fresh context: no cookie, cache or storage from another test. Playwright's
 * 30 s default wait would let a broken page eat most of vitest's 60 s before
 * saying why; every step here takes well under a second, so 10 s is generous
 * and fails fast.
 */
export async function freshContext(browser: Browser, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(10_000);
  return context;
}

export type DecryptedMessage = { folder: string; message: string; meta: Record<string, unknown> & { encryptedBy?: string | null; language?: string | null } };

/**
 * Every `message.txt` under `root`, at any depth, with the `meta.json` beside it.
 * Searching rather than assuming `<out>/<day>_<id>/` keeps these tests about what
 * the journalist reads, not where `decrypt` happens to put it (per-thread
 * folders, numbered messages). Half-written `.partial*` folders are skipped:
 * they are not something a journalist is meant to open.
 */
export async function readDecryptedMessages(root: string): Promise<DecryptedMessage[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name === 'message.txt')
    .map((e) => join(e.parentPath, e.name))
    .filter((file) => !file.slice(root.length).split(/[\\/]/).some((part) => part.startsWith('.partial') || part.endsWith('.partial')))
    .sort();
  return Promise.all(
    files.map(async (file) => {
      const folder = dirname(file);
      return {
        folder,
        message: await readFile(file, 'utf8'),
        meta: JSON.parse(await readFile(join(folder, 'meta.json'), 'utf8')) as DecryptedMessage['meta'],
      };
    }),
  );
}
