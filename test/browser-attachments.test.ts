/**
 * Attachments end to end, in a real headless Chromium against a real `tipline
 * serve`: a source attaches a 20 MiB file and a photo with a GPS position to a
 * tip; the journalist's `fetch` and `decrypt` give back the first byte for
 * byte and the photo without its GPS (and with its image data untouched), and
 * stock `gpg --decrypt` opens the stored blobs too. Along the way, the page
 * loses the answer to one chunk (the server got it) and must carry on without
 * sending it again, and a source pauses and resumes an upload.
 *
 * The encrypt-and-upload speed is printed for the notes, never asserted on.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import exifr from 'exifr';
import type { BrowserContext, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSegments } from '../client/journalist/attachment-segments.ts';
import { randomBytes } from '../crypto/bytes.ts';
import { paddedFileSize } from '../crypto/file-padding.ts';
import { freshContext } from './helpers/browser.ts';
import { exifSegment, startOfScan } from './helpers/exif-fixture.ts';
import { makeGpgHome, type GpgHome } from './helpers/gpg.ts';
import { openBrowserNewsroom, type BrowserNewsroom } from './helpers/browser-newsroom.ts';
import { storedBlobFile } from './helpers/newsroom.ts';

const RECEIVED_HEADING = 'Your tip was received';
/**
 * Three proofs of work (two files and the tip), then encryption in JavaScript
 * (openpgp.js: SHA-1 and AES-CFB, plus SHA-256 for the tip document). Measured
 * at 4 to 5 MiB/s on a busy two-core test machine, so generous.
 */
const SEND_TIMEOUT_MS = 200_000;
const TEST_TIMEOUT_MS = 280_000;
const MiB = 1024 * 1024;

let rig: BrowserNewsroom;
let gpg: GpgHome | undefined;

beforeAll(async () => {
  rig = await openBrowserNewsroom();
  gpg = await makeGpgHome();
  const keyFile = join(rig.newsroom.root, 'journalist.asc');
  await writeFile(keyFile, rig.journalist.armoredPrivateKey);
  await gpg.gpg(['--import', keyFile]);
});

afterAll(async () => {
  await gpg?.cleanup();
  await rig?.close();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The journalist receives one new message whose one attachment is `file`, byte for byte (by the envelope's SHA-256 and the file written). */
async function expectReceivedWhole(file: Uint8Array): Promise<void> {
  const [message] = await rig.receive();
  const [attachment] = message!.meta.attachments as MetaAttachment[];
  expect(attachment!.sha256).toBe(sha256(file));
  expect(sha256(await readFile(join(message!.folder, attachment!.savedAs)))).toBe(sha256(file));
}

type MetaAttachment = { name: string; savedAs: string; size: number; sha256: string; risky: boolean; metadataFound: string[] };

/** A real JPEG from Chromium's encoder, with the EXIF block spliced in after SOI. */
async function photoWithGps(context: BrowserContext): Promise<Uint8Array> {
  const page = await context.newPage();
  try {
    const dataUrl = await page.evaluate(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 96;
      canvas.height = 64;
      const g = canvas.getContext('2d')!;
      const gradient = g.createLinearGradient(0, 0, 96, 64);
      gradient.addColorStop(0, '#1b3a57');
      gradient.addColorStop(1, '#f0c040');
      g.fillStyle = gradient;
      g.fillRect(0, 0, 96, 64);
      return canvas.toDataURL('image/jpeg', 0.9);
    });
    const plain = new Uint8Array(Buffer.from(dataUrl.split(',')[1]!, 'base64'));
    return new Uint8Array([...plain.subarray(0, 2), ...exifSegment(), ...plain.subarray(2)]);
  } finally {
    await page.close();
  }
}

describe('attachments from a real browser', () => {
  it('sends a 20 MiB file and a photo; the journalist gets the file byte for byte and the photo without its GPS', async () => {
    const context = await freshContext(rig.browser);
    try {
      const photo = await photoWithGps(context);
      // The fixture must carry what the test says is removed, or the test proves nothing.
      expect(await exifr.gps(photo)).toMatchObject({ latitude: expect.closeTo(48.858, 2), longitude: expect.closeTo(2.294, 2) });
      const big = randomBytes(20 * MiB);
      const bigFile = join(rig.filesDir, 'evidence-20MiB.bin');
      const photoFile = join(rig.filesDir, 'holiday.jpg');
      await writeFile(bigFile, big);
      await writeFile(photoFile, photo);

      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      // Upload ids in order (the big file's first), and the timing of the big one.
      const uploadIds: string[] = [];
      let photoIdKnown!: () => void;
      const photoId = new Promise<void>((ok) => (photoIdKnown = ok));
      let bigStarted = 0;
      let bigDone = 0;
      page.on('response', async (r) => {
        const url = new URL(r.url());
        if (r.request().method() === 'POST' && url.pathname === '/api/v1/uploads' && r.status() === 201) {
          if (uploadIds.length === 0) bigStarted = performance.now();
          uploadIds.push(((await r.json()) as { id: string }).id);
          if (uploadIds.length === 2) photoIdKnown();
        }
      });
      page.on('response', (r) => {
        if (new URL(r.url()).pathname.endsWith('/complete') && bigDone === 0) bigDone = performance.now();
      });
      // The photo's one chunk reaches the server, but its answer is lost on the way back:
      // the page must ask where the upload is and go on, not send the chunk again.
      const photoPuts: string[] = [];
      await page.route('**/api/v1/uploads/*', async (route: Route) => {
        const request = route.request();
        const id = new URL(request.url()).pathname.split('/').pop()!;
        if (request.method() !== 'PUT' || id === uploadIds[0]) return route.continue();
        await photoId;
        photoPuts.push(request.url());
        if (photoPuts.length === 1) {
          await route.fetch();
          return route.abort('connectionreset');
        }
        return route.continue();
      });

      await page.goto(`${rig.server.url}/submit`);
      await page.getByLabel('Message').fill('Two files: the ledger and the photo of the depot.');
      await page.getByLabel('Attach files').setInputFiles([bigFile, photoFile]);
      // Before anything is sent, the page says what it did to each file.
      await expect.poll(() => page.locator('.attachment-note').allTextContents()).toEqual([
        expect.stringContaining("We can't remove hidden information from this kind of file"),
        expect.stringContaining('Hidden information removed from this image: APP1 (EXIF), APP0 (JFIF)'),
      ]);
      await page.getByRole('button', { name: 'Submit tip' }).click();
      await page.getByRole('heading', { name: RECEIVED_HEADING }).waitFor({ state: 'visible', timeout: SEND_TIMEOUT_MS });
      expect(pageErrors).toEqual([]);
      expect(photoPuts).toHaveLength(1);
      const seconds = (bigDone - bigStarted) / 1000;
      // A floor, not the page's speed: Playwright's network instrumentation slows large request bodies a lot.
      console.log(`[browser-attachments] 20 MiB: encrypt + hash + upload in ${seconds.toFixed(2)} s = ${(20 / seconds).toFixed(1)} MiB/s (Chromium under Playwright, loopback, 8 MiB chunks)`);

      const messages = await rig.receive();
      expect(messages).toHaveLength(1);
      const { folder, meta } = messages[0]!;
      const attachments = meta.attachments as MetaAttachment[];
      expect(attachments.map((a) => [a.name, a.savedAs, a.risky])).toEqual([
        ['evidence-20MiB.bin', 'attachments/evidence-20MiB.bin', false],
        ['holiday.jpg', 'attachments/holiday.jpg', false],
      ]);
      const gotBig = new Uint8Array(await readFile(join(folder, attachments[0]!.savedAs)));
      expect(gotBig.length).toBe(big.length);
      expect(sha256(gotBig)).toBe(sha256(big));
      expect(attachments[0]!.sha256).toBe(sha256(big));

      const gotPhoto = new Uint8Array(await readFile(join(folder, attachments[1]!.savedAs)));
      expect(await exifr.gps(gotPhoto)).toBeUndefined();
      expect(await exifr.parse(gotPhoto, { tiff: true, gps: true })).toBeUndefined();
      expect(attachments[1]!.metadataFound).toEqual([]);
      // The whitelist keeps no APPn but the colour profile: the EXIF goes, and so does Chromium's 18-byte JFIF header.
      expect(gotPhoto.length).toBe(photo.length - exifSegment().length - 18);
      expect(Buffer.from(gotPhoto.subarray(startOfScan(gotPhoto))).equals(Buffer.from(photo.subarray(startOfScan(photo))))).toBe(true);

      // Stock GnuPG opens the stored blobs (the server's copies) and gets the same, cleaned, files.
      // The decrypted blob is the file followed by its padding (zeros to the size bucket).
      const photoPlain = await gpg!.decrypt(await storedBlobFile(rig.newsroom, uploadIds[1]!));
      expect(sha256(photoPlain.subarray(0, gotPhoto.length))).toBe(sha256(gotPhoto));
      expect(photoPlain.subarray(gotPhoto.length).every((b) => b === 0)).toBe(true);
      // The big one is segmented (one OpenPGP message per 4 MiB of padded file): gpg opens each segment on its own.
      const bigBlob = await storedBlobFile(rig.newsroom, uploadIds[0]!);
      const segments = await findSegments(bigBlob);
      expect(segments.length).toBe(Math.ceil(paddedFileSize(big.length) / (4 * MiB)));
      const blobBytes = await readFile(bigBlob);
      const parts: Buffer[] = [];
      for (const [i, s] of segments.entries()) {
        const segmentFile = join(rig.filesDir, `segment-${i}.gpg`);
        await writeFile(segmentFile, blobBytes.subarray(s.start, s.dataPacket.end));
        parts.push(await gpg!.decrypt(segmentFile));
      }
      const bigPlain = Buffer.concat(parts);
      expect(bigPlain.length).toBe(paddedFileSize(big.length));
      expect(sha256(bigPlain.subarray(0, big.length))).toBe(sha256(big));
      expect(bigPlain.subarray(big.length).every((b) => b === 0)).toBe(true);
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);

  it('pauses and resumes an upload; the file arrives whole', async () => {
    const context = await freshContext(rig.browser);
    try {
      // Several chunks (1 MiB, then growing: upload-attachment.ts); the second is held.
      const file = randomBytes(9 * MiB + 12345);
      const path = join(rig.filesDir, 'minutes.pdf');
      await writeFile(path, file);
      const page = await context.newPage();
      // Hold the second chunk until the source has pressed Pause.
      const putOffsets: number[] = [];
      let held!: () => void;
      const chunkHeld = new Promise<void>((ok) => (held = ok));
      await page.route('**/api/v1/uploads/*', async (route: Route) => {
        const request = route.request();
        if (request.method() === 'PUT') putOffsets.push(Number(new URL(request.url()).searchParams.get('offset')));
        if (request.method() === 'PUT' && putOffsets.length === 2) {
          held();
          // Pause cancels the request in the page; this route is then left to fail.
          await new Promise((r) => setTimeout(r, 3000));
          return route.abort('connectionreset').catch(() => {});
        }
        return route.continue();
      });
      await page.goto(`${rig.server.url}/submit`);
      await page.getByLabel('Message').fill('Minutes of the meeting.');
      await page.getByLabel('Attach files').setInputFiles(path);
      await expect.poll(() => page.locator('.attachment-note').textContent()).toContain("can't remove hidden information");
      await page.getByRole('button', { name: 'Submit tip' }).click();
      await chunkHeld;
      await page.getByRole('button', { name: 'Pause' }).click();
      await expect.poll(() => page.locator('.attachment-state').textContent()).toContain('Paused');
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.getByRole('heading', { name: RECEIVED_HEADING }).waitFor({ state: 'visible', timeout: SEND_TIMEOUT_MS });
      // The held chunk was sent again after Resume (the same offset twice, one after the
      // other); no other chunk was sent twice, and none was skipped.
      expect(putOffsets[0]).toBe(0);
      expect(putOffsets[1]).toBeGreaterThan(0);
      expect(putOffsets[2]).toBe(putOffsets[1]);
      const rest = [putOffsets[0], ...putOffsets.slice(2)];
      expect(new Set(rest).size).toBe(rest.length);
      expect(rest).toEqual([...rest].sort((a, b) => a! - b!));

      await expectReceivedWhole(file);
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);

  it('hashes the file natively in 4 MiB pieces: the tip carries the piece hash, and the journalist\'s check catches a file that differs', async () => {
    const context = await freshContext(rig.browser);
    try {
      // Three pieces, the last one short: the piece boundaries matter.
      const file = randomBytes(8 * MiB + 17);
      const path = join(rig.filesDir, 'pieces.bin');
      await writeFile(path, file);
      const page = await context.newPage();
      await page.goto(`${rig.server.url}/submit`);
      await page.getByLabel('Message').fill('Hashed in pieces.');
      await page.getByLabel('Attach files').setInputFiles(path);
      await expect.poll(() => page.locator('.attachment-note').textContent()).toContain("can't remove hidden information");
      await page.getByRole('button', { name: 'Submit tip' }).click();
      await page.getByRole('heading', { name: RECEIVED_HEADING }).waitFor({ state: 'visible', timeout: SEND_TIMEOUT_MS });

      const [received] = await rig.receive();
      const [attachment] = received!.meta.attachments as { savedAs: string; sha256: string }[];
      // meta.json gives the plain SHA-256 (what sha256sum prints), not the piece hash.
      expect(attachment!.sha256).toBe(createHash('sha256').update(file).digest('hex'));
      const got = new Uint8Array(await readFile(join(received!.folder, attachment!.savedAs)));
      expect(got.length).toBe(file.length);
      expect(sha256(got)).toBe(sha256(file));
    } finally {
      await context.close();
    }
  }, TEST_TIMEOUT_MS);

  it('refuses too many files before reading any, in the source\'s language', async () => {
    const context = await freshContext(rig.browser);
    try {
      const page = await context.newPage();
      await page.goto(`${rig.server.url}/submit?lang=fr`);
      const files = Array.from({ length: 21 }, (_, i) => ({ name: `page-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`page ${i}`) }));
      await page.getByLabel('Joindre des fichiers').setInputFiles(files);
      await expect.poll(() => page.locator('#attach-error').textContent()).toContain('au plus 20 fichiers');
      expect(await page.locator('.attachment').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('without JavaScript, shows no file picker and says why; the form carries no file field', async () => {
    const context = await freshContext(rig.browser, { javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${rig.server.url}/submit`);
      // (Playwright's text search skips <noscript>, so it is found by element.)
      const note = page.locator('noscript p');
      expect(await note.isVisible()).toBe(true);
      expect(await note.textContent()).toContain('Attaching files needs JavaScript');
      expect(await page.locator('#attach').isVisible()).toBe(false);
      expect(await page.locator('#tip-form input[type="file"][name]').count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
