/**
 * What a photo says once it has gone through the source's page, in a real
 * headless Chromium with JavaScript on against a real `tipline serve`: a
 * hostile source's phone-like JPEG (EXIF GPS, MPF with a depth map carrying
 * its own GPS after the end, APP11 C2PA naming the owner), a PNG with caBX,
 * eXIf and bytes after IEND, and a WebP with EXIF and XMP. The journalist's
 * copies are judged by exiftool `-ee` and a byte search, must be Chromium's
 * own image bytes, and must decode to the same pixels. A damaged photo is
 * refused before anything is sent, in each of the source's languages. Two
 * files a few percent apart leave ciphertexts of one size on the server.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../crypto/bytes.ts';
import { TRAILING_DATA, TRAILING_IMAGE } from '../crypto/metadata-strip.ts';
import { paddedFileSize } from '../crypto/file-padding.ts';
import en from '../i18n/messages/en.json' with { type: 'json' };
import es from '../i18n/messages/es.json' with { type: 'json' };
import fr from '../i18n/messages/fr.json' with { type: 'json' };
import zhHans from '../i18n/messages/zh-Hans.json' with { type: 'json' };
import zhHant from '../i18n/messages/zh-Hant.json' with { type: 'json' };
import { freshContext } from './helpers/browser.ts';
import { openBrowserNewsroom, type BrowserNewsroom } from './helpers/browser-newsroom.ts';
import { SECRETS, hostileJpeg, hostilePng, hostileWebp } from './helpers/hostile-images.ts';
import { storedBlobFile } from './helpers/newsroom.ts';

const RECEIVED_HEADING = 'Your tip was received';
const SEND_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 200_000;

let rig: BrowserNewsroom;
beforeAll(async () => {
  rig = await openBrowserNewsroom();
});
afterAll(async () => {
  await rig?.close();
});

type MetaAttachment = { name: string; savedAs: string; size: number; sha256: string; metadataFound: string[] };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const has = (hay: Uint8Array, needle: string) => Buffer.from(hay).includes(Buffer.from(needle));

/** Groups exiftool -ee may find in a clean image: the file, its pixels' description, its colour profile. */
const CLEAN_GROUPS = new Set(['SourceFile', 'ExifTool', 'System', 'File', 'Composite', 'PNG', 'RIFF', 'ICC-header', 'ICC_Profile']);

async function exiftoolGroups(file: string): Promise<{ groups: string[]; text: string }> {
  const { stdout } = await promisify(execFile)('exiftool', ['-j', '-ee', '-a', '-u', '-G1', file]);
  const tags = (JSON.parse(stdout) as Record<string, unknown>[])[0]!;
  return { groups: [...new Set(Object.keys(tags).map((k) => k.split(':')[0]!))], text: stdout };
}

/** The SHA-256 of the RGBA pixels Chromium decodes from `bytes`, with no colour conversion or premultiplying. */
function pixelHash(page: Page, bytes: Uint8Array, type: string): Promise<string> {
  return page.evaluate(
    async ({ b64, type }) => {
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([raw], { type }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = canvas.getContext('2d')!;
      g.drawImage(bitmap, 0, 0);
      const pixels = g.getImageData(0, 0, bitmap.width, bitmap.height).data;
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', pixels));
      return `${bitmap.width}x${bitmap.height}:${[...digest].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
    },
    { b64: Buffer.from(bytes).toString('base64'), type },
  );
}

describe('photos from a real browser leak nothing', () => {
  it('cleans a phone-like JPEG, a PNG and a WebP by whitelist; exiftool -ee finds nothing, the pixels are the same', async () => {
    const files = [
      { name: 'depot.jpg', type: 'image/jpeg', ...hostileJpeg(), note: ['APP1 (EXIF)', 'APP2 (MPF: more images in the file)', 'APP11 (JUMBF/C2PA)', TRAILING_IMAGE] },
      { name: 'screenshot.png', type: 'image/png', ...hostilePng(), note: ['caBX (C2PA)', 'eXIf (EXIF)', 'prVt', TRAILING_DATA] },
      { name: 'sticker.webp', type: 'image/webp', ...hostileWebp('photo-lossless.webp'), note: ['EXIF', 'XMP', 'chunk prVt', TRAILING_DATA] },
    ];
    const context = await freshContext(rig.browser);
    try {
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      for (const f of files) await writeFile(join(rig.filesDir, f.name), f.hostile);
      await page.goto(`${rig.server.url}/submit`);
      await page.getByLabel('Message').fill('Three pictures of the depot.');
      await page.getByLabel('Attach files').setInputFiles(files.map((f) => join(rig.filesDir, f.name)));
      // The page tells the source what it removed, the C2PA credentials and the second image included.
      // Each row's note appears at once, empty, and is filled when that file has been cleaned, one after another.
      const filledNotes = async () => (await page.locator('.attachment-note').allTextContents()).filter((t) => t !== '');
      await expect.poll(filledNotes, { timeout: 30_000 }).toHaveLength(3);
      const notes = await page.locator('.attachment-note').allTextContents();
      files.forEach((f, i) => {
        for (const part of f.note) expect(notes[i], f.name).toContain(part);
      });
      await page.getByRole('button', { name: 'Submit tip' }).click();
      await page.getByRole('heading', { name: RECEIVED_HEADING }).waitFor({ state: 'visible', timeout: SEND_TIMEOUT_MS });
      expect(pageErrors).toEqual([]);

      const [message] = await rig.receive();
      const attachments = message!.meta.attachments as MetaAttachment[];
      expect(attachments.map((a) => a.name)).toEqual(files.map((f) => f.name));
      for (const [i, f] of files.entries()) {
        const path = join(message!.folder, attachments[i]!.savedAs);
        const got = new Uint8Array(await readFile(path));
        // Byte for byte Chromium's own image (a JPEG less its JFIF header): no re-encoding, nothing added.
        expect(sha256(got), f.name).toBe(sha256(f.clean));
        const { groups, text } = await exiftoolGroups(path);
        expect(groups.filter((g) => !CLEAN_GROUPS.has(g)), f.name).toEqual([]);
        expect(text, f.name).not.toContain('Jane Source');
        expect(text, f.name).not.toContain('Warning');
        for (const secret of SECRETS) expect(has(got, secret), `${f.name}: ${secret}`).toBe(false);
        // The journalist's report agrees there is nothing left.
        expect(attachments[i]!.metadataFound, f.name).toEqual([]);
        // And it is still the same picture.
        expect(await pixelHash(page, got, f.type), f.name).toBe(await pixelHash(page, f.clean, f.type));
      }
      // The judge is not blind: exiftool -ee on what the source picked finds the planted GPS, C2PA and depth map.
      const before = await exiftoolGroups(join(rig.filesDir, 'depot.jpg'));
      expect(before.groups).toEqual(expect.arrayContaining(['GPS', 'JUMBF', 'MPImage2', 'XMP-dc']));
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);

  const LANGUAGES = { en, 'zh-Hans': zhHans, 'zh-Hant': zhHant, fr, es } as const;
  it('refuses a damaged photo before anything is sent, in each of the source\'s languages', async () => {
    const { hostile } = hostileJpeg();
    // Cut inside the image data: the page can't know what the rest would have held.
    const damaged = hostile.subarray(0, 1500);
    const file = join(rig.filesDir, 'cut-short.jpg');
    await writeFile(file, damaged);
    const context = await freshContext(rig.browser);
    try {
      const page = await context.newPage();
      const uploads: string[] = [];
      page.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/api/v1/uploads')) uploads.push(r.url());
      });
      for (const [code, messages] of Object.entries(LANGUAGES)) {
        await page.goto(`${rig.server.url}/submit?lang=${code}`);
        await page.locator('input[type=file]').setInputFiles(file);
        const error = page.locator('#attach-error');
        await error.waitFor({ state: 'visible' });
        expect(await error.textContent(), code).toBe(messages['submit.attach.damaged'].replace('{name}', 'cut-short.jpg'));
        // The choice is forgotten: nothing is listed, nothing will go with the tip.
        expect(await page.locator('#attachment-list li').count(), code).toBe(0);
        expect(await page.locator('input[type=file]').evaluate((input: HTMLInputElement) => input.files?.length ?? 0), code).toBe(0);
      }
      expect(uploads).toEqual([]);
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);

  it('two files a few percent apart leave ciphertexts of one size, declared and stored alike', async () => {
    const sizes = [1_000_000, 1_030_000];
    expect(paddedFileSize(sizes[0]!)).toBe(paddedFileSize(sizes[1]!));
    const contents = sizes.map((n) => randomBytes(n));
    const paths = sizes.map((n) => join(rig.filesDir, `ledger-${n}.bin`));
    for (const [i, p] of paths.entries()) await writeFile(p, contents[i]!);
    const context = await freshContext(rig.browser);
    try {
      const page = await context.newPage();
      /** The size each upload declares (the rest of the body is its proof of work). */
      const declared: number[] = [];
      const ids: string[] = [];
      const puts = new Map<string, number[]>();
      page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (r.method() === 'POST' && path === '/api/v1/uploads') declared.push((r.postDataJSON() as { bytes: number }).bytes);
        if (r.method() === 'PUT' && path.startsWith('/api/v1/uploads/')) {
          const id = path.split('/').pop()!;
          puts.set(id, [...(puts.get(id) ?? []), r.postDataBuffer()?.length ?? -1]);
        }
      });
      page.on('response', async (r) => {
        if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/uploads' && r.status() === 201) ids.push(((await r.json()) as { id: string }).id);
      });
      await page.goto(`${rig.server.url}/submit`);
      await page.getByLabel('Message').fill('Two versions of the ledger.');
      await page.getByLabel('Attach files').setInputFiles(paths);
      await page.getByRole('button', { name: 'Submit tip' }).click();
      await page.getByRole('heading', { name: RECEIVED_HEADING }).waitFor({ state: 'visible', timeout: SEND_TIMEOUT_MS });

      expect(declared).toHaveLength(2);
      expect(declared[0]).toBe(declared[1]);
      expect(ids).toHaveLength(2);
      const patterns = ids.map((id) => puts.get(id));
      expect(patterns[0]).toEqual(patterns[1]);
      const stored = await Promise.all(ids.map(async (id) => (await stat(await storedBlobFile(rig.newsroom, id))).size));
      expect(stored[0]).toBe(stored[1]);
      expect(stored[0]).toBeGreaterThan(paddedFileSize(sizes[0]!));
      console.log(`[browser-metadata] files of ${sizes.join(' and ')} bytes: ciphertexts of ${stored.join(' and ')} bytes; both declared as ${declared[0]}`);

      // The journalist still gets each file exactly, padding cut.
      const [message] = await rig.receive();
      const attachments = message!.meta.attachments as MetaAttachment[];
      for (const [i, a] of attachments.entries()) {
        expect(a.size).toBe(sizes[i]);
        expect(sha256(new Uint8Array(await readFile(join(message!.folder, a.savedAs))))).toBe(sha256(contents[i]!));
      }
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);
});
