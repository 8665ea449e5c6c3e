/**
 * Reads what a source page makes the browser load or run: every `<script>` and
 * `<link>` (with its `integrity`), inline `<script>`/`<style>` content, and the
 * values `tipline verify` compares with the manifest (the newsroom key in the
 * page's `<meta>`, the fingerprint on the landing page, the release footer).
 *
 * It is a scanner for tags, not an HTML parser. That is enough because it errs
 * on the side of reporting: something that merely looks like a `<script>` tag
 * (in a comment, say) is reported as one, and the pages tipline renders have no
 * such look-alikes. The asset lock is made with this same scanner, so what the
 * build locks is exactly what verify checks.
 *
 * @example
 * const page = scanPage(html);
 * page.references; // [{ element: 'link', rel: 'stylesheet', url: '/static/style.css', integrity: 'sha384-…' }, …]
 * page.inline;     // [] unless a <script> or <style> has content
 */

export type ScannedReference = {
  element: 'script' | 'link';
  /** `<link rel>`, lower-cased. */
  rel?: string;
  /** `src` or `href`, as written. */
  url: string;
  /** The `integrity` attribute as written, or undefined when there is none. */
  integrity?: string;
};

export type ScannedPage = {
  references: ScannedReference[];
  /** `<script>` or `<style>` elements with content, each with its first characters. */
  inline: { element: 'script' | 'style'; excerpt: string }[];
  /** `<script`, `<link` or `<style` openings this scanner could not read as a tag: reported, never skipped. */
  unreadable: string[];
  /** `<meta name=… content=…>`, by name (every occurrence). */
  meta: Map<string, string[]>;
  /** The `<html lang>` value. */
  lang?: string;
  /** The text of the element with `id="newsroom-fingerprint"` (landing page). */
  newsroomFingerprint?: string;
  /** The full hash in the footer's `id="assets-lock-sha256"` title. */
  assetLockSha256?: string;
};

/**
 * Reads `html` once, front to back, as a browser's tokenizer reads tags (the
 * tag-name, attribute and quoted-value states of the HTML standard, in
 * simplified form), so the time is linear in the page's length whatever the
 * page holds: a hostile server can't make `verify` hang with unclosed quotes
 * or millions of `<a`. Script and style content is skipped as the browser
 * skips it (raw text). A tag cut off by the end of the page is dropped, as the
 * browser drops it, and every `<script`, `<link` or `<style` this pass did not
 * read as a tag is listed in `unreadable`.
 */
export function scanPage(html: string): ScannedPage {
  const page: ScannedPage = { references: [], inline: [], unreadable: [], meta: new Map() };
  const read = new Set<number>();
  let fingerprintSeen = false;
  let at = 0;
  while (at < html.length) {
    const open = html.indexOf('<', at);
    if (open < 0) break;
    const tag = readTag(html, open);
    if (tag === 'not-a-tag') {
      at = open + 1;
      continue;
    }
    if (tag === 'cut-off') break;
    at = tag.end;
    if (tag.closing) continue;
    const { name, attributes } = tag;
    if (name === 'script' || name === 'link' || name === 'style') read.add(open);
    if (name === 'script' || name === 'style') {
      // Raw text: the browser runs to the first `</script` (or `</style`), and so do we.
      const closing = new RegExp(`</${name}\\s*>`, 'ig');
      closing.lastIndex = tag.end;
      const found = closing.exec(html);
      const content = html.slice(tag.end, found ? found.index : html.length);
      if (content.trim() !== '') page.inline.push({ element: name, excerpt: content.trim().slice(0, 60) });
      const src = attributes.get('src');
      if (name === 'script' && src !== undefined) page.references.push(reference('script', src, attributes));
      at = found ? found.index + found[0].length : html.length;
    } else if (name === 'link') {
      const href = attributes.get('href');
      if (href !== undefined) page.references.push(reference('link', href, attributes));
    } else if (name === 'meta') {
      const metaName = attributes.get('name');
      if (metaName !== undefined) page.meta.set(metaName, [...(page.meta.get(metaName) ?? []), attributes.get('content') ?? '']);
    } else if (name === 'html') {
      const lang = attributes.get('lang');
      if (lang !== undefined) page.lang = lang;
    }
    const id = attributes.get('id');
    if (id === 'newsroom-fingerprint' && !fingerprintSeen) {
      fingerprintSeen = true;
      const textEnd = html.indexOf('<', tag.end);
      page.newsroomFingerprint = decodeEntities(html.slice(tag.end, textEnd < 0 ? html.length : textEnd)).trim();
    } else if (id === 'assets-lock-sha256' && page.assetLockSha256 === undefined) {
      const title = attributes.get('title');
      if (title !== undefined && /^[0-9a-f]{64}$/.test(title)) page.assetLockSha256 = title;
    }
  }
  for (const m of html.matchAll(/<(?:script|link|style)\b/gi)) {
    if (!read.has(m.index)) page.unreadable.push(html.slice(m.index, m.index + 60));
  }
  return page;
}

type Tag = { name: string; closing: boolean; attributes: Map<string, string>; end: number };

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\f' || c === '\r';
const isLetter = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/**
 * The tag that starts at `html[open]` (a `<`): its lower-cased name, its
 * attributes (names lower-cased, the first of a repeated one wins, values with
 * character references decoded) and the index just past its `>`. Quotes only
 * count at the start of an attribute value, as in browsers. 'cut-off' when the
 * page ends inside the tag, 'not-a-tag' when no tag starts here.
 */
function readTag(html: string, open: number): Tag | 'not-a-tag' | 'cut-off' {
  let i = open + 1;
  const closing = html[i] === '/';
  if (closing) i++;
  if (!isLetter(html[i] ?? '')) return 'not-a-tag';
  const nameStart = i;
  while (i < html.length && !isSpace(html[i]!) && html[i] !== '/' && html[i] !== '>') i++;
  const name = html.slice(nameStart, i).toLowerCase();
  const attributes = new Map<string, string>();
  for (;;) {
    while (i < html.length && (isSpace(html[i]!) || html[i] === '/')) i++;
    if (i >= html.length) return 'cut-off';
    if (html[i] === '>') return { name, closing, attributes, end: i + 1 };
    // An attribute name: a leading '=' belongs to it, as in browsers.
    const attrStart = i;
    i++;
    while (i < html.length && !isSpace(html[i]!) && html[i] !== '/' && html[i] !== '>' && html[i] !== '=') i++;
    const attrName = html.slice(attrStart, i).toLowerCase();
    while (i < html.length && isSpace(html[i]!)) i++;
    let value = '';
    if (html[i] === '=') {
      i++;
      while (i < html.length && isSpace(html[i]!)) i++;
      const quote = html[i];
      if (quote === '"' || quote === "'") {
        const close = html.indexOf(quote, i + 1);
        if (close < 0) return 'cut-off';
        value = html.slice(i + 1, close);
        i = close + 1;
      } else {
        const valueStart = i;
        while (i < html.length && !isSpace(html[i]!) && html[i] !== '>') i++;
        value = html.slice(valueStart, i);
      }
    }
    if (!attributes.has(attrName)) attributes.set(attrName, decodeEntities(value));
  }
}

function reference(element: 'script' | 'link', url: string, attributes: Map<string, string>): ScannedReference {
  const ref: ScannedReference = { element, url };
  const rel = attributes.get('rel');
  if (element === 'link' && rel !== undefined) ref.rel = rel.toLowerCase();
  const integrity = attributes.get('integrity');
  if (integrity !== undefined) ref.integrity = integrity;
  return ref;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, code: string) => {
    if (code[0] === '#') {
      const n = code[1] === 'x' || code[1] === 'X' ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return NAMED[code.toLowerCase()] ?? whole;
  });
}
