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

// A tag: its name, then attributes where quoted values may hold '>'.
const TAG = /<(script|link|style|meta|html)\b((?:[^>"']|"[^"]*"|'[^']*')*)>/gi;
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

export function scanPage(html: string): ScannedPage {
  const page: ScannedPage = { references: [], inline: [], unreadable: [], meta: new Map() };
  const read = new Set<number>();
  for (const match of html.matchAll(TAG)) {
    read.add(match.index);
    const name = match[1]!.toLowerCase();
    const attributes = parseAttributes(match[2]!);
    if (name === 'script' || name === 'style') {
      const rest = html.slice(match.index + match[0].length);
      const end = rest.search(new RegExp(`</${name}\\s*>`, 'i'));
      const content = end < 0 ? rest : rest.slice(0, end);
      if (content.trim() !== '') page.inline.push({ element: name, excerpt: content.trim().slice(0, 60) });
      const src = attributes.get('src');
      if (name === 'script' && src !== undefined) page.references.push(reference('script', src, attributes));
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
  }
  for (const m of html.matchAll(/<(?:script|link|style)\b/gi)) {
    if (!read.has(m.index)) page.unreadable.push(html.slice(m.index, m.index + 60));
  }
  const fingerprint = /<\w+\b[^>]*\bid="newsroom-fingerprint"[^>]*>([^<]*)</.exec(html);
  if (fingerprint) page.newsroomFingerprint = decodeEntities(fingerprint[1]!).trim();
  const lockHash = /<\w+\b[^>]*\bid="assets-lock-sha256"[^>]*\btitle="([0-9a-f]{64})"/.exec(html);
  if (lockHash) page.assetLockSha256 = lockHash[1]!;
  return page;
}

function reference(element: 'script' | 'link', url: string, attributes: Map<string, string>): ScannedReference {
  const ref: ScannedReference = { element, url };
  const rel = attributes.get('rel');
  if (element === 'link' && rel !== undefined) ref.rel = rel.toLowerCase();
  const integrity = attributes.get('integrity');
  if (integrity !== undefined) ref.integrity = integrity;
  return ref;
}

/** Attribute names lower-cased; for a repeated attribute the first wins, as in browsers. */
function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(ATTRIBUTE)) {
    const name = m[1]!.toLowerCase();
    if (!out.has(name)) out.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return out;
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
