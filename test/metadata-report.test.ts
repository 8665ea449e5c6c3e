/**
 * The journalist's metadata report (client/journalist/metadata-report.ts) on
 * files a source's page did not clean: a hostile source's, or one cleaned by
 * some other tool that removes known-bad parts only. It must name what the
 * page's whitelist would have removed (MPF images, APP11/C2PA, caBX, unknown
 * chunks, bytes after the end), read the GPS of a second image after the end,
 * call a damaged image damaged, and say nothing about a file the page cleaned.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../crypto/bytes.ts';
import { stripMetadata } from '../crypto/metadata-strip.ts';
import { findMetadata } from '../client/journalist/metadata-report.ts';
import { hostileJpeg, hostilePng, hostileWebp, photo } from './helpers/hostile-images.ts';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tipline-report-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function report(name: string, bytes: Uint8Array): Promise<string[]> {
  const file = join(scratch, name);
  await writeFile(file, bytes);
  return findMetadata(file);
}

const GPS = /GPS position: 48\.858\d+, 2\.294\d+/;

describe('the metadata report judges by the same whitelist as the page', () => {
  it('a phone-like JPEG: its GPS, the MPF index, APP11 C2PA, and the GPS of the depth map after the end', async () => {
    const found = (await report('phone.jpg', hostileJpeg().hostile)).join('\n');
    expect(found).toMatch(GPS);
    expect(found).toContain('APP2 (MPF: more images in the file)');
    expect(found).toContain('APP11 (JUMBF/C2PA)');
    expect(found).toContain('another image after the end');
    expect(found).toMatch(new RegExp(`In the image after the end: ${GPS.source}`));
  });

  it('a JPEG "cleaned" by a tool that only drops EXIF: the depth map after the end still has a GPS position, and the report says so', async () => {
    const { clean, second } = hostileJpeg();
    const found = await report('half-cleaned.jpg', concatBytes(clean, second));
    expect(found.join('\n')).toMatch(new RegExp(`In the image after the end: ${GPS.source}`));
    expect(found.some((l) => l.includes('another image after the end'))).toBe(true);
  });

  it('a PNG with caBX and a private chunk and bytes after IEND, none of which exifr reads', async () => {
    const { clean } = hostilePng();
    const found = (await report('c2pa.png', hostilePng().hostile)).join('\n');
    for (const part of ['caBX (C2PA)', 'prVt', 'data after the end of the image']) expect(found).toContain(part);
    expect(found).toMatch(GPS);
    expect((await report('trailer.png', concatBytes(clean, utf8.encode('PK\x03\x04 a zip after the end')))).join('\n')).toContain('data after the end of the image');
  });

  it('a WebP with EXIF, XMP, a private chunk and a trailer', async () => {
    const found = (await report('phone.webp', hostileWebp().hostile)).join('\n');
    expect(found).toMatch(GPS);
    for (const part of ['EXIF', 'XMP', 'chunk prVt', 'data after the end of the image']) expect(found).toContain(part);
  });

  it('says nothing about what the page cleaned, and nothing about Chromium\'s own images', async () => {
    for (const [name, make] of [['a.jpg', hostileJpeg], ['b.png', hostilePng], ['c.webp', () => hostileWebp()]] as const) {
      expect(await report(name, stripMetadata(make().hostile).bytes), name).toEqual([]);
    }
    expect(await report('d.png', photo('photo.png'))).toEqual([]);
    expect(await report('e.webp', photo('photo-lossless.webp'))).toEqual([]);
  });

  it('calls an image that cannot be parsed to its end damaged, never clean', async () => {
    const png = photo('photo.png');
    const cut = await report('cut.png', png.subarray(0, png.length - 40));
    expect(cut.join('\n')).toMatch(/Not a complete, well-formed image \(PNG: .*\): it may hide data; open it with care/);
    const jpeg = photo('photo.jpg');
    expect((await report('cut.jpg', jpeg.subarray(0, jpeg.length - 2))).join('\n')).toMatch(/Not a complete, well-formed image \(JPEG/);
  });
});
