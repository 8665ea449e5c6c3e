/**
 * The whitelist cleaner (crypto/metadata-strip.ts) against files made the way
 * phones and editors make them (test/helpers/hostile-images.ts): a JPEG with
 * an MPF depth map carrying its own GPS after the end, APP11 C2PA; a PNG with
 * caBX, eXIf and bytes after IEND; WebPs with EXIF and XMP. The judge is
 * exiftool with `-ee` (embedded images too) and a byte search; the pixels must
 * be Chromium's own bytes, untouched. Files that can't be parsed to the end
 * are refused, never half-cleaned, and random damage never gets past that
 * rule.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../crypto/bytes.ts';
import { MalformedImageError, TRAILING_DATA, TRAILING_IMAGE, stripMetadata } from '../crypto/metadata-strip.ts';
import { SECRETS, hostileJpeg, hostilePng, hostileWebp, photo } from './helpers/hostile-images.ts';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tipline-strip-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** exiftool's reading of `bytes`: every tag, duplicates and unknown ones too, in embedded images as well. */
async function exiftool(bytes: Uint8Array): Promise<Record<string, unknown>> {
  const file = join(scratch, `image-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, bytes);
  const { stdout } = await promisify(execFile)('exiftool', ['-j', '-ee', '-a', '-u', '-G1', file]);
  return (JSON.parse(stdout) as Record<string, unknown>[])[0]!;
}

/** The exiftool groups a clean image may have: the file itself, its pixels' description and its colour profile. */
const CLEAN_GROUPS = new Set(['SourceFile', 'ExifTool', 'System', 'File', 'Composite', 'PNG', 'RIFF', 'ICC-header', 'ICC_Profile']);

const groupsOf = (tags: Record<string, unknown>) => new Set(Object.keys(tags).map((k) => k.split(':')[0]!));
const has = (hay: Uint8Array, needle: string) => Buffer.from(hay).includes(Buffer.from(needle));
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

const cases = [
  {
    name: 'JPEG with EXIF GPS, XMP, MPF and a depth map with its own GPS after the end, APP11 C2PA, IPTC, a comment',
    make: hostileJpeg,
    seen: ['GPS:GPSLatitude', 'MPImage2:MPImage2', 'JUMBF:JUMDLabel', 'JSON:Device', 'XMP-dc:Creator', 'IFD0:Artist'],
    removed: ['APP1 (EXIF)', 'APP2 (MPF: more images in the file)', 'APP1 (XMP)', 'APP11 (JUMBF/C2PA)', 'APP13 (IPTC/Photoshop)', 'COM (comment)', 'APP0 (JFIF)', TRAILING_IMAGE],
  },
  {
    name: 'PNG with caBX, eXIf GPS, XMP, text, time, a private chunk and bytes after IEND',
    make: hostilePng,
    seen: ['GPS:GPSLatitude', 'JUMBF:JUMDLabel', 'JSON:Author', 'XMP-dc:Creator', 'PNG:Author'],
    removed: ['caBX (C2PA)', 'eXIf (EXIF)', 'iTXt (text, XMP)', 'tEXt (text)', 'tIME (time)', 'prVt', TRAILING_DATA],
  },
  {
    name: 'lossy WebP with EXIF GPS, XMP, a private chunk and bytes after the RIFF end',
    make: () => hostileWebp('photo.webp'),
    seen: ['GPS:GPSLatitude', 'XMP-dc:Creator', 'IFD0:Artist'],
    removed: ['EXIF', 'XMP', 'chunk prVt', TRAILING_DATA],
  },
  {
    name: 'lossless WebP with the same',
    make: () => hostileWebp('photo-lossless.webp'),
    seen: ['GPS:GPSLatitude', 'XMP-dc:Creator'],
    removed: ['EXIF', 'XMP', 'chunk prVt', TRAILING_DATA],
  },
];

describe('whitelist cleaning, judged by exiftool -ee', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { hostile, clean } = c.make();
      // The judge first: exiftool must see what was planted, or its silence below proves nothing.
      const before = await exiftool(hostile);
      for (const tag of c.seen) expect(before, tag).toHaveProperty([tag]);
      expect(JSON.stringify(before)).toContain('Jane Source');

      const result = stripMetadata(hostile);
      expect(result.cleaned).toBe(true);
      expect(result.removed).toEqual(c.removed);

      // Pixels byte-identical: what is left is Chromium's own file (for JPEG, less its JFIF header), byte for byte.
      expect(same(result.bytes, clean)).toBe(true);

      const after = await exiftool(result.bytes);
      expect([...groupsOf(after)].filter((g) => !CLEAN_GROUPS.has(g))).toEqual([]);
      expect(after).not.toHaveProperty(['ExifTool:Warning']);
      for (const secret of SECRETS) expect(has(result.bytes, secret), secret).toBe(false);

      // Cleaning a clean file changes nothing and reports nothing.
      const again = stripMetadata(result.bytes);
      expect(same(again.bytes, result.bytes)).toBe(true);
      expect(again.removed).toEqual([]);
      expect(again.trailing).toBeUndefined();
    });
  }

  it('keeps the ICC colour profile and clears only the EXIF and XMP flags of VP8X', () => {
    const { hostile } = hostileWebp();
    expect(hostile[20]! & 0x2c).toBe(0x2c);
    const { bytes } = stripMetadata(hostile);
    expect(bytes[20]! & 0x0c).toBe(0);
    expect(bytes[20]! & 0x20).toBe(0x20);
    expect(has(bytes, 'ICCP')).toBe(true);
    expect(has(stripMetadata(hostileJpeg().hostile).bytes, 'ICC_PROFILE')).toBe(true);
  });

  it('hands back what followed the end, so the report can read the second image', () => {
    const { hostile, second } = hostileJpeg();
    expect(same(stripMetadata(hostile).trailing!, second)).toBe(true);
  });

  it('JPEG: keeps every scan of a multi-scan (progressive-shaped) file byte for byte, with stuffed bytes and restart markers; drops a comment between scans and fill bytes', () => {
    const real = photo('photo.jpg');
    const sos = Buffer.from(real).indexOf(Buffer.from([0xff, 0xda]));
    const header = real.subarray(0, sos); // SOI, JFIF, ICC, DQT, SOF0, DHT: Chromium's own
    const scanHeader = real.subarray(sos, sos + 2 + 12);
    const scan1 = concatBytes(scanHeader, new Uint8Array([0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd1, 0x78]));
    const between = concatBytes(new Uint8Array([0xff, 0xfe, 0, 18]), utf8.encode('Jane Source 4471')); // COM after the first scan
    const dht = real.subarray(Buffer.from(real).indexOf(Buffer.from([0xff, 0xc4])), sos); // tables may come again between scans
    const scan2 = concatBytes(scanHeader, new Uint8Array([0x9a, 0xff, 0x00, 0xbc]));
    const file = concatBytes(header, scan1, between, dht, new Uint8Array([0xff, 0xff]), scan2, new Uint8Array([0xff, 0xd9]));
    const { bytes, removed } = stripMetadata(file);
    expect(removed).toEqual(['APP0 (JFIF)', 'COM (comment)']);
    expect(has(bytes, 'Jane Source')).toBe(false);
    // Exactly the file less JFIF, the comment and the fill bytes (0xFF padding, which carries nothing).
    const expected = concatBytes(header.subarray(0, 2), header.subarray(2 + 18), scan1, dht, scan2, new Uint8Array([0xff, 0xd9]));
    expect(same(bytes, expected)).toBe(true);
  });

  it('names a WebP chunk with control characters in hex, never as raw bytes', () => {
    const real = photo('photo.webp');
    const odd = concatBytes(utf8.encode('\x1b[2J'), new Uint8Array([3, 0, 0, 0, 1, 2, 3, 0]));
    const body = concatBytes(real.subarray(12), odd);
    const file = concatBytes(utf8.encode('RIFF'), new Uint8Array(new Uint32Array([body.length + 4]).buffer), utf8.encode('WEBP'), body);
    expect(stripMetadata(file).removed).toEqual(['chunk 0x1b5b324a']);
  });
});

describe('refusing what cannot be parsed to the end', () => {
  const jpeg = photo('photo.jpg');
  const png = photo('photo.png');
  const webp = photo('photo.webp');
  const flip = (b: Uint8Array, at: number) => {
    const copy = b.slice();
    copy[at] = copy[at]! ^ 0x01;
    return copy;
  };
  const pngChunkAt = (type: string) => Buffer.from(png).indexOf(type) - 4;
  const refused: [string, Uint8Array, RegExp][] = [
    ['a JPEG cut in its image data', jpeg.subarray(0, jpeg.length - 100), /JPEG/],
    ['a JPEG without its end marker', jpeg.subarray(0, jpeg.length - 2), /JPEG/],
    ['a JPEG cut inside a segment header', jpeg.subarray(0, 21), /JPEG/],
    ['a JPEG with a JPEG-extension marker (JPG7) before the frame', concatBytes(jpeg.subarray(0, 2), new Uint8Array([0xff, 0xf7, 0, 4, 1, 2]), jpeg.subarray(2)), /unsupported marker 0xf7/],
    ['a JPEG whose scan comes before any frame', concatBytes(jpeg.subarray(0, 2), new Uint8Array([0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xff, 0xd9])), /scan before the frame/],
    ['a JPEG with a second start-of-image inside it', concatBytes(jpeg.subarray(0, 2), new Uint8Array([0xff, 0xd8]), jpeg.subarray(2)), /unexpected marker/],
    ['a PNG with one flipped bit in its image data', flip(png, pngChunkAt('IDAT') + 20), /bad CRC in IDAT/],
    ['a PNG without IEND', png.subarray(0, png.length - 12), /ends before IEND/],
    ['a PNG with an unknown critical chunk', concatBytes(png.subarray(0, 33), new Uint8Array([0, 0, 0, 0]), utf8.encode('XyZw'), new Uint8Array([0x8a, 0x4d, 0x6a, 0x3b]), png.subarray(33)), /critical chunk XyZw|bad CRC/],
    ['a WebP whose RIFF size is larger than the file', webp.subarray(0, webp.length - 10), /WebP/],
    ['a WebP with a chunk that runs past the RIFF end', concatBytes(webp, new Uint8Array(0)).map((x, i) => (i === 4 ? x - 4 : x)), /WebP/],
    ['a WebP with no image chunk', concatBytes(utf8.encode('RIFF'), new Uint8Array([22, 0, 0, 0]), utf8.encode('WEBP'), webp.subarray(12, 30)), /no image data/],
  ];
  for (const [name, bytes, message] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => stripMetadata(bytes)).toThrow(MalformedImageError);
      expect(() => stripMetadata(bytes)).toThrow(message);
    });
  }

  it('a PNG with an unknown critical chunk (valid CRC) is refused, not cleaned', async () => {
    const { crc32 } = await import('node:zlib');
    const typed = concatBytes(utf8.encode('XyZw'), utf8.encode('Jane Source'));
    const crc = crc32(typed);
    const chunk = concatBytes(new Uint8Array([0, 0, 0, 11]), typed, new Uint8Array([crc >>> 24, (crc >> 16) & 255, (crc >> 8) & 255, crc & 255]));
    expect(() => stripMetadata(concatBytes(png.subarray(0, 33), chunk, png.subarray(33)))).toThrow(/unknown critical chunk XyZw/);
  });

  it('damaged hostile files are either refused or cleaned completely (never half)', () => {
    const hostiles = [hostileJpeg().hostile, hostilePng().hostile, hostileWebp().hostile];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: hostiles.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.option(fc.nat()), (which, edits, cut) => {
        const bytes = hostiles[which]!.slice();
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        const input = cut === null ? bytes : bytes.subarray(0, cut % bytes.length);
        let out;
        try {
          out = stripMetadata(input);
        } catch (e) {
          if (e instanceof MalformedImageError) return;
          throw e;
        }
        // Whatever got through is a fixed point: nothing left that the cleaner would remove.
        const again = stripMetadata(out.bytes);
        expect(again.removed).toEqual([]);
        expect(same(again.bytes, out.bytes)).toBe(true);
      }),
      { numRuns: 400, seed: 15 },
    );
  });
});
