/**
 * Files on follow-ups, in a real headless Chromium against a real `tipline
 * serve`: a source sends a tip, logs in later with the codename (JavaScript
 * on), and attaches a file to a follow-up with the tip form's own picker,
 * limits, encryption and upload. The journalist's `fetch` and `decrypt` put
 * the file, byte for byte, in the follow-up's folder inside the same
 * conversation as the tip. With JavaScript off, the inbox has no file input
 * (a file could not go that way), says so, and still sends text.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../crypto/bytes.ts';
import { freshContext } from './helpers/browser.ts';
import { openBrowserNewsroom, type BrowserNewsroom } from './helpers/browser-newsroom.ts';

/** Proofs of work (tip, upload, follow-up) and openpgp.js in the page, on a busy two-core machine. */
const SEND_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 200_000;
const MiB = 1024 * 1024;

let rig: BrowserNewsroom;

beforeAll(async () => {
  rig = await openBrowserNewsroom();
});

afterAll(async () => {
  await rig?.close();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A first tip through the page (JavaScript on); returns the codename it shows. */
async function sendTip(context: BrowserContext, message: string): Promise<string> {
  const page = await context.newPage();
  await page.goto(`${rig.server.url}/submit`);
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Submit tip' }).click();
  await page.getByRole('heading', { name: 'Your tip was received' }).waitFor({ state: 'visible', timeout: SEND_TIMEOUT_MS });
  const codename = (await page.locator('#codename').textContent())!.trim();
  expect(codename.split(/\s+/)).toHaveLength(12);
  await page.close();
  return codename;
}

async function logIn(page: Page, codename: string): Promise<void> {
  await page.goto(`${rig.server.url}/login`);
  await page.getByLabel('Codename').fill(codename);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#inbox-heading').waitFor({ state: 'visible' });
}

type MetaAttachment = { name: string; savedAs: string; size: number; sha256: string };

describe('attachments on follow-ups', () => {
  let codename: string;

  it('a logged-in source attaches a file to a follow-up; the journalist gets it byte for byte, in the conversation', async () => {
    const context = await freshContext(rig.browser);
    try {
      codename = await sendTip(context, 'The first tip: more to come.');
      const file = randomBytes(5 * MiB + 4321);
      const path = join(rig.filesDir, 'ledger-2024.bin');
      await writeFile(path, file);

      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      const fetched: string[] = [];
      context.on('request', (r) => fetched.push(new URL(r.url()).pathname));
      await logIn(page, codename);
      await page.getByLabel('Reply').fill('Here is the ledger I promised.');
      await page.getByLabel('Attach files').setInputFiles(path);
      // The same warning as on the tip form, before anything is sent.
      await expect.poll(() => page.locator('.attachment-note').textContent()).toContain("can't remove hidden information");
      await page.getByRole('button', { name: 'Send' }).click();
      await expect.poll(() => page.locator('#reply-status').textContent(), { timeout: SEND_TIMEOUT_MS }).toBe('Your message was sent.');
      expect(await page.locator('#reply-error').isVisible()).toBe(false);
      expect(pageErrors).toEqual([]);
      // The file's hash is WebCrypto's, in the segment workers (file-segments.ts): the only worker script asked for is the
      // segment encryptor's pool (client/source/segment-worker.ts), no hash worker.
      expect(fetched.filter((p) => p.includes('worker') && p !== '/static/segment-worker.js')).toEqual([]);
      expect(fetched).toContain('/static/segment-worker.js');
      // Ready for the next message: the file is not sent again with it.
      expect(await page.locator('.attachment').count()).toBe(0);
      expect(await page.getByLabel('Attach files').evaluate((input: HTMLInputElement) => input.files?.length)).toBe(0);

      const messages = await rig.receive();
      expect(messages).toHaveLength(2);
      const tip = messages.find((m) => m.message.includes('The first tip'))!;
      const followup = messages.find((m) => m.message.includes('Here is the ledger'))!;
      expect(tip.meta.attachments ?? []).toEqual([]);
      // One conversation folder, the follow-up's own message folder inside it.
      expect(dirname(followup.folder)).toBe(dirname(tip.folder));
      expect(basename(followup.folder)).toMatch(/followup/);
      const [attachment, ...more] = followup.meta.attachments as MetaAttachment[];
      expect(more).toEqual([]);
      expect(attachment!.name).toBe('ledger-2024.bin');
      expect(attachment!.sha256).toBe(sha256(file));
      const got = new Uint8Array(await readFile(join(followup.folder, attachment!.savedAs)));
      expect(got.length).toBe(file.length);
      expect(sha256(got)).toBe(sha256(file));
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);

  it('refuses too many files for one follow-up before reading any, in words about a message', async () => {
    const context = await freshContext(rig.browser);
    try {
      const page = await context.newPage();
      await logIn(page, codename);
      const files = Array.from({ length: 21 }, (_, i) => ({ name: `page-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`page ${i}`) }));
      await page.getByLabel('Attach files').setInputFiles(files);
      await expect.poll(() => page.locator('#attach-error').textContent()).toBe('You can attach at most 20 files to one message. Choose fewer files.');
      expect(await page.locator('.attachment').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('without JavaScript, the inbox has no file input, says files need JavaScript, and still sends a follow-up', async () => {
    const context = await freshContext(rig.browser, { javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${rig.server.url}/login`);
      await page.getByLabel('Codename').fill(codename);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#inbox-heading').waitFor({ state: 'visible' });
      expect(await page.locator('input[type="file"]').count()).toBe(0);
      expect(await page.locator('#attach-needs-js').textContent()).toContain('Attaching files needs JavaScript');
      expect(await page.locator('#attach-needs-js').isVisible()).toBe(true);
      await page.getByLabel('Reply').fill('One more thing, sent without JavaScript.');
      // The no-JavaScript form's token is time-locked (3 s after the page, from the next whole second), as a person would take.
      await page.waitForTimeout(4000);
      await page.getByRole('button', { name: 'Send' }).click();
      await page.getByText('Your message was sent.').waitFor({ state: 'visible' });

      const followup = (await rig.receive()).find((m) => m.message.includes('One more thing, sent without JavaScript.'));
      expect(followup).toBeDefined();
      expect(followup!.meta.attachments ?? []).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
