/**
 * Which other files a bundled script or stylesheet makes the browser fetch:
 * a module's static imports (loaded with it) and its `import()` chunks (loaded
 * later, when the page needs them), and a stylesheet's `url(…)`s and `@import`s.
 *
 * Made for esbuild's output, whose imports are plain string literals. Scripts
 * that load code any other way (a computed `import()`, a Worker) would be missed
 * here; `tipline verify` also fetches every file in the asset lock, so locked
 * files are checked even when nothing here leads to them.
 *
 * @example
 * moduleImports('import"./chunks/a.js";import("./chunks/b.js")', '/static/page.js');
 * // { static: ['/static/chunks/a.js'], dynamic: ['/static/chunks/b.js'] }
 */

export type ModuleImports = { static: string[]; dynamic: string[] };

const STATIC_IMPORT = /\b(?:import|export)\s*(?:[\w*{}\s,$]*?from\s*)?["']([^"']+\.js)["']/g;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+\.js)["']\s*\)/g;
const CSS_URL = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"'\s]*))\s*\)|@import\s+["']([^"']+)["']/g;

/** The URL paths a module at `fromPath` imports, each once, in order of appearance. */
export function moduleImports(code: string, fromPath: string): ModuleImports {
  const paths = (re: RegExp) => unique([...code.matchAll(re)].map((m) => resolvePath(fromPath, m[1]!)));
  return { static: paths(STATIC_IMPORT), dynamic: paths(DYNAMIC_IMPORT) };
}

/** The same-origin URL paths a stylesheet at `fromPath` loads (data: URLs and fragments aside). */
export function stylesheetUrls(css: string, fromPath: string): string[] {
  const urls = [...css.matchAll(CSS_URL)].map((m) => (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').trim());
  return unique(urls.filter((u) => u !== '' && !u.startsWith('data:') && !u.startsWith('#')).map((u) => resolvePath(fromPath, u)));
}

/**
 * A reference resolved against the path of the file it appears in. A reference
 * to another origin keeps its full URL, so the caller sees it is foreign.
 */
export function resolvePath(fromPath: string, reference: string): string {
  const base = 'http://same.origin.invalid';
  const url = new URL(reference, `${base}${fromPath}`);
  return url.origin === base ? url.pathname + url.search : url.href;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
