/**
 * Attachment hygiene at the byte level: which files can't be cleaned, hostile
 * file names made safe, risky types flagged.
 */
import { describe, expect, it } from 'vitest';
import { utf8 } from '../crypto/bytes.ts';
import { MAX_NAME_BYTES, isRiskyFile, sanitizeFileName, uniqueFileName } from '../crypto/file-names.ts';
import { cannotClean, imageKind, stripMetadata } from '../crypto/metadata-strip.ts';

// The whitelist cleaning itself, with real images and exiftool as the judge, is in metadata-strip.test.ts.
describe('stripMetadata', () => {
  it('leaves other types alone and says so', () => {
    const pdf = utf8.encode('%PDF-1.7 /Author (Jane Source)');
    const r = stripMetadata(pdf);
    expect([r.kind, r.cleaned, r.bytes]).toEqual(['other', false, pdf]);
    expect(cannotClean('report.pdf', 'application/pdf')).toBe(true);
    expect(cannotClean('clip.mp4', 'video/mp4')).toBe(true);
    expect(cannotClean('photo.JPG', '')).toBe(false);
    expect(imageKind(new Uint8Array(0))).toBe('other');
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
