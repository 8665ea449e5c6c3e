/**
 * Text from a server or a source, made safe to print on a journalist's
 * terminal: control characters (C0 but tab and line feed when asked, DEL, C1,
 * which holds the 8-bit CSI) and the bidirectional overrides are replaced by
 * `?`, so an error message or a tip field cannot clear the screen, move the
 * cursor, set the window title or draw a fake "all OK" line.
 *
 * @module
 * @example
 * import { printable } from './printable.ts';
 * printable('fine\x1b[2J\rall OK'); // 'fine?[2J?all OK'
 */

// C0 but LF and TAB (kept only in multi-line text), DEL, C1, and the bidi embeddings, overrides and isolates.
const ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const MULTI_LINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every terminal control replaced by `?`; `multiLine` keeps line feeds and tabs. */
export function printable(text: unknown, o: { multiLine?: boolean } = {}): string {
  return String(text).replace(o.multiLine ? MULTI_LINE : ONE_LINE, '?');
}
