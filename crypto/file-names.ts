/**
 * File names from a source are hostile until proven otherwise. The journalist
 * tool writes attachments only under names made safe here: no path separators
 * or `..`, no control or bidirectional-override characters (which can make
 * `invoice‮fdp.exe` look like `invoice.exe.pdf`), no leading dot (hidden files)
 * or dash (read as an option by shell tools), at most 200 bytes of UTF-8.
 *
 * @module
 * @example
 * import { sanitizeFileName, uniqueFileName } from './file-names.ts';
 * sanitizeFileName('../../etc/passwd'); // 'etc_passwd'
 * uniqueFileName('photo.jpg', new Set(['photo.jpg'])); // 'photo (2).jpg'
 */
import { utf8 } from './bytes.ts';

export const MAX_NAME_BYTES = 200;
const FALLBACK = 'attachment';
// Control characters, bidi controls and zero-width joiners/marks that can disguise a name.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/gu;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

export function sanitizeFileName(name: unknown): string {
  let n = typeof name === 'string' ? name.normalize('NFC') : '';
  n = n.replace(INVISIBLE, '');
  // Keep only the last path component, whatever the separator.
  n = n.split(/[\\/]/).filter((part) => part !== '' && part !== '.' && part !== '..').join('_');
  n = n.replace(/[<>:"|?*]/g, '_');
  n = n.replace(/^[.\-\s]+/, '').replace(/[.\s]+$/, '');
  if (WINDOWS_RESERVED.test(n)) n = `_${n}`;
  if (n === '') n = FALLBACK;
  return truncateUtf8(n, MAX_NAME_BYTES);
}

/** Cuts to at most `max` bytes of UTF-8 without splitting a character, keeping the extension when it can. */
function truncateUtf8(name: string, max: number): string {
  if (utf8.encode(name).length <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let base = [...name.slice(0, name.length - ext.length)];
  while (utf8.encode(base.join('') + ext).length > max) base = base.slice(0, -1);
  return base.join('') + ext;
}

/** A name not in `taken` (compared case-insensitively, as macOS and Windows do): adds " (2)", " (3)"… */
export function uniqueFileName(name: string, taken: Set<string>): string {
  const lower = new Set([...taken].map((t) => t.toLowerCase()));
  if (!lower.has(name.toLowerCase())) return name;
  const dot = name.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 2; ; i++) {
    const candidate = truncateUtf8(`${base} (${i})`, MAX_NAME_BYTES - utf8.encode(ext).length) + ext;
    if (!lower.has(candidate.toLowerCase())) return candidate;
  }
}

const RISKY = /\.(exe|com|scr|msi|msp|bat|cmd|ps1|psm1|vbs|vbe|js|jse|wsf|wsh|hta|cpl|jar|sh|bash|zsh|py|pl|rb|php|app|dmg|pkg|deb|rpm|apk|lnk|url|desktop|iso|img|docm|dotm|xlsm|xltm|xlam|pptm|potm|ppam|sldm|html?|svg|xhtml)$/i;

/** True for executables, scripts, disk images and macro-enabled Office files: the journalist is warned. */
export function isRiskyFile(name: string, type = ''): boolean {
  return RISKY.test(name) || /application\/(x-(ms)?dos-?exec|x-msdownload|x-sh|javascript|x-executable|vnd\.ms-[a-z]+\.macroenabled)|text\/(html|javascript)/i.test(type);
}
