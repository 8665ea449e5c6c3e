/**
 * Attachment hygiene at the byte level: metadata stripped from images without
 * touching the pixels, hostile file names made safe, risky types flagged.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../crypto/bytes.ts';
import { MAX_NAME_BYTES, isRiskyFile, sanitizeFileName, uniqueFileName } from '../crypto/file-names.ts';
import { cannotClean, imageKind, stripMetadata } from '../crypto/metadata-strip.ts';

const seg = (marker: number, body: Uint8Array) => concatBytes(new Uint8Array([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255]), body);
const text = (s: string) => utf8.encode(s);

// A JPEG built segment by segment: JFIF, EXIF with a GPS tag name in it, XMP, IPTC, a comment, then the image.
const exif = seg(0xe1, concatBytes(text('Exif\0\0MM\0*'), text('GPSLatitude 48.8566 N'), new Uint8Array(20)));
const xmp = seg(0xe1, text('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><dc:creator>Jane Source</dc:creator></x:xmpmeta>'));
const iptc = seg(0xed, text('Photoshop 3.0\x008BIM\x04\x04 By-line: Jane Source'));
const comment = seg(0xfe, text('shot at 12 Rue Example'));
const jfif = seg(0xe0, text('JFIF\0\x01\x01\0\0\x01\0\x01\0\0'));
const dqt = seg(0xdb, new Uint8Array(65).fill(1));
const sos = concatBytes(seg(0xda, new Uint8Array([1, 1, 0, 0, 63, 0])), new Uint8Array([0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56]), new Uint8Array([0xff, 0xd9]));
const jpeg = concatBytes(new Uint8Array([0xff, 0xd8]), jfif, exif, xmp, iptc, comment, dqt, sos);

const pngChunk = (type: string, data: Uint8Array) => {
  const len = new Uint8Array([data.length >>> 24, (data.length >> 16) & 255, (data.length >> 8) & 255, data.length & 255]);
  return concatBytes(len, text(type), data, new Uint8Array([1, 2, 3, 4])); // CRC unchecked by the stripper
};
const png = concatBytes(
  new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  pngChunk('IHDR', new Uint8Array(13)),
  pngChunk('tEXt', text('Author\0Jane Source')),
  pngChunk('eXIf', text('MM\0*GPSLatitude')),
  pngChunk('tIME', new Uint8Array(7)),
  pngChunk('IDAT', new Uint8Array([9, 8, 7, 6])),
  pngChunk('IEND', new Uint8Array(0)),
);

const riffChunk = (fourcc: string, data: Uint8Array) =>
  concatBytes(text(fourcc), new Uint8Array([data.length & 255, (data.length >> 8) & 255, 0, 0]), data, data.length & 1 ? new Uint8Array(1) : new Uint8Array(0));
const webpBody = concatBytes(riffChunk('VP8X', new Uint8Array([0x0c, 0, 0, 0, 1, 0, 0, 1, 0, 0])), riffChunk('VP8 ', new Uint8Array([1, 2, 3, 4, 5])), riffChunk('EXIF', text('GPS')), riffChunk('XMP ', text('<x:xmpmeta/>')));
const webp = concatBytes(text('RIFF'), new Uint8Array([(webpBody.length + 4) & 255, ((webpBody.length + 4) >> 8) & 255, 0, 0]), text('WEBP'), webpBody);

const has = (hay: Uint8Array, needle: string) => Buffer.from(hay).includes(Buffer.from(needle));

describe('stripMetadata', () => {
  it('JPEG: drops EXIF (GPS), XMP, IPTC and comments; the image data after SOS is byte-identical', () => {
    const { bytes, kind, cleaned, removed } = stripMetadata(jpeg);
    expect([kind, cleaned]).toEqual(['jpeg', true]);
    for (const secret of ['GPSLatitude', 'Jane Source', 'Rue Example', 'xmpmeta', '8BIM']) expect(has(bytes, secret), secret).toBe(false);
    expect(removed).toEqual(['APP1 (EXIF/XMP)', 'APP1 (EXIF/XMP)', 'APP13 (IPTC)', 'COM (comment)']);
    expect(Buffer.from(bytes.subarray(bytes.length - sos.length)).equals(Buffer.from(sos))).toBe(true);
    expect(has(bytes, 'JFIF')).toBe(true);
    expect(Buffer.from(bytes).includes(Buffer.from(dqt))).toBe(true);
    // Stripping twice changes nothing more.
    expect(stripMetadata(bytes).bytes).toEqual(bytes);
  });

  it('PNG: drops tEXt, eXIf and tIME and keeps the image chunks', () => {
    const { bytes, removed } = stripMetadata(png);
    expect(removed).toEqual(['tEXt', 'eXIf', 'tIME']);
    expect(has(bytes, 'Jane Source')).toBe(false);
    expect(has(bytes, 'GPSLatitude')).toBe(false);
    for (const chunk of ['IHDR', 'IDAT', 'IEND']) expect(has(bytes, chunk)).toBe(true);
  });

  it('WebP: drops EXIF and XMP, clears their VP8X flags, fixes the RIFF size', () => {
    const { bytes, removed } = stripMetadata(webp);
    expect(removed).toEqual(['EXIF', 'XMP']);
    expect(has(bytes, 'GPS')).toBe(false);
    const riffSize = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16);
    expect(riffSize).toBe(bytes.length - 8);
    expect(bytes[20]! & 0x0c).toBe(0); // VP8X flags byte
    expect(has(bytes, 'VP8 ')).toBe(true);
  });

  it('leaves other types alone and says so', () => {
    const pdf = text('%PDF-1.7 /Author (Jane Source)');
    const r = stripMetadata(pdf);
    expect([r.kind, r.cleaned, r.bytes]).toEqual(['other', false, pdf]);
    expect(cannotClean('report.pdf', 'application/pdf')).toBe(true);
    expect(cannotClean('clip.mp4', 'video/mp4')).toBe(true);
    expect(cannotClean('photo.JPG', '')).toBe(false);
    expect(imageKind(new Uint8Array(0))).toBe('other');
  });

  it('refuses a truncated image rather than guessing', () => {
    expect(() => stripMetadata(jpeg.subarray(0, 30))).toThrow(/JPEG/);
    expect(() => stripMetadata(png.subarray(0, 30))).toThrow(/PNG/);
  });
});

describe('file names from sources', () => {
  const table: [string, string][] = [
    ['../../etc/passwd', 'etc_passwd'],
    ['C:\\Windows\\system32\\evil.dll', 'C__Windows_system32_evil.dll'],
    ['..', 'attachment'],
    ['', 'attachment'],
    ['.bashrc', 'bashrc'],
    ['-rf', 'rf'],
    ['--help.txt', 'help.txt'],
    ['report\u202Efdp.exe', 'reportfdp.exe'], // right-to-left override removed: no disguised extension
    ['a\u0000b.txt', 'ab.txt'],
    ['tab\tand\nnewline.txt', 'tabandnewline.txt'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['what?.txt', 'what_.txt'],
    ['photo.jpg ', 'photo.jpg'],
    ['正常的文件名.pdf', '正常的文件名.pdf'],
  ];
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => expect(sanitizeFileName(input)).toBe(expected));
  }

  it('cuts names to 200 bytes of UTF-8 without splitting a character, keeping the extension', () => {
    for (const long of ['a'.repeat(300) + '.pdf', '文'.repeat(300) + '.docx', '😀'.repeat(120)]) {
      const safe = sanitizeFileName(long);
      expect(utf8.encode(safe).length).toBeLessThanOrEqual(MAX_NAME_BYTES);
      expect(safe).not.toContain('\ufffd');
      if (long.includes('.')) expect(safe.endsWith(long.slice(long.lastIndexOf('.')))).toBe(true);
    }
  });

  it('gives colliding names a suffix, case-insensitively', () => {
    expect(uniqueFileName('photo.jpg', new Set(['photo.jpg']))).toBe('photo (2).jpg');
    expect(uniqueFileName('Photo.JPG', new Set(['photo.jpg', 'photo (2).jpg']))).toBe('Photo (3).JPG');
    expect(uniqueFileName('notes', new Set())).toBe('notes');
  });

  it('flags executables, scripts and macro-enabled Office files', () => {
    for (const name of ['setup.exe', 'run.sh', 'x.ps1', 'budget.xlsm', 'letter.docm', 'page.html', 'shortcut.lnk']) expect(isRiskyFile(name), name).toBe(true);
    for (const name of ['report.pdf', 'photo.jpg', 'budget.xlsx', 'notes.txt']) expect(isRiskyFile(name), name).toBe(false);
    expect(isRiskyFile('harmless.txt', 'application/x-msdownload')).toBe(true);
  });
});
