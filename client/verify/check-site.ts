/**
 * Fetches what a source's browser would load from a tip line and compares it
 * with the asset lock:
 * - every source page (landing, form, log-in, an error page), in every language
 *   and with no language chosen: each may reference only the scripts,
 *   stylesheets and icon the lock lists for it, each with the lock's exact
 *   `integrity`, may have no inline script or style, and must be served with
 *   the lock's Content-Security-Policy and without a cookie;
 * - every script and stylesheet those pages reference, every chunk the scripts
 *   import (at once or later, with `import()`), and every other file in the
 *   lock: byte for byte.
 *
 * JavaScript on or off makes no difference to what the server sends (the HTML
 * is the same); with JavaScript on, the browser also loads the scripts and
 * chunks, which are all checked here.
 *
 * It also collects what the pages claim about keys and releases (the newsroom
 * key in `<meta>`, the fingerprint and lock hash shown), for the caller to
 * compare with the verified manifest.
 *
 * @example
 * const site = await checkSite(httpGetter(), new URL('http://abc…xyz.onion'), lock);
 * site.findings; // [{ level: 'problem', message: '/static/page.js: bytes differ from the lock …' }]
 */
import type { AssetLock, LockedAsset, LockedPage } from '../../crypto/asset-lock.ts';
import { sha256Hex } from '../../crypto/asset-lock.ts';
import { hex } from '../../crypto/bytes.ts';
import { LANGUAGES } from '../../i18n/index.ts';
import { problemsByPage, type Finding } from './findings.ts';
import type { HttpGet, HttpResponse } from './http-get.ts';
import { moduleImports, resolvePath, stylesheetUrls } from './module-imports.ts';
import { scanPage, type ScannedReference } from './scan-page.ts';

/**
 * The pages a watcher can fetch without side effects (the lock also lists the
 * ones behind a POST). The error page is reached through a random unknown path
 * each run, so a server can't keep a clean answer ready for one fixed path.
 */
export function pagesToFetch(): { page: string; path: string; status: number }[] {
  return [
    { page: 'landing', path: '/', status: 200 },
    { page: 'submit', path: '/submit', status: 200 },
    { page: 'login', path: '/login', status: 200 },
    { page: 'message', path: `/${hex.encode(crypto.getRandomValues(new Uint8Array(6)))}`, status: 404 },
  ];
}

export type SiteCheck = {
  findings: Finding[];
  /** `<meta name="tipline-newsroom-key">` values: the key the page's script trusts, by page. */
  embeddedKeys: { where: string; key: string }[];
  /** The newsroom fingerprint each landing page shows. */
  shownFingerprints: { where: string; fingerprint: string }[];
  /** The asset-lock hash each page's footer shows. */
  shownLockHashes: { where: string; hash: string }[];
};

/** Thrown when the server can't be reached at all: there is nothing to report on. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export async function checkSite(get: HttpGet, server: URL, lock: AssetLock): Promise<SiteCheck> {
  const site: SiteCheck = { findings: [], embeddedKeys: [], shownFingerprints: [], shownLockHashes: [] };
  const pageProblems: { where: string; message: string }[] = [];
  const pageProblem = (where: string, message: string) => pageProblems.push({ where, message });
  const assets = new Map(lock.assets.map((a) => [a.path, a]));
  /** Same-origin files the pages lead to, with what led there (for the report). */
  const toFetch = new Map<string, string>();

  const pages = pagesToFetch();
  let pagesChecked = 0;
  for (const spec of pages) {
    for (const lang of [undefined, ...LANGUAGES.map((l) => l.code)]) {
      const path = lang ? `${spec.path}?lang=${encodeURIComponent(lang)}` : spec.path;
      const where = `GET ${path}`;
      let response: HttpResponse;
      try {
        response = await get(new URL(path, server).href);
      } catch (e) {
        if (pagesChecked === 0) throw new UnreachableError(`cannot reach ${server.origin}: ${(e as Error).message}`);
        pageProblem(where, `could not be fetched (${(e as Error).message})`);
        continue;
      }
      pagesChecked++;
      if (response.status !== spec.status) pageProblem(where, `answered ${response.status}, expected ${spec.status}`);
      if (response.headers['set-cookie']) pageProblem(where, 'sets a cookie before any log-in');
      const csp = String(response.headers['content-security-policy'] ?? '');
      if (csp !== lock.contentSecurityPolicy) pageProblem(where, `is served with Content-Security-Policy "${csp}", not the lock's "${lock.contentSecurityPolicy}"`);

      const scanned = scanPage(new TextDecoder().decode(response.body));
      for (const tag of scanned.unreadable) pageProblem(where, `has a tag this check cannot read: ${JSON.stringify(tag)}`);
      for (const inline of scanned.inline) pageProblem(where, `has an inline <${inline.element}>: ${JSON.stringify(inline.excerpt)}`);
      const locked = lock.pages.find((p) => p.page === spec.page && p.lang === scanned.lang);
      if (!locked) pageProblem(where, `is in a language the lock has no ${spec.page} page for ("${scanned.lang ?? 'none'}")`);
      const wellFormed: ScannedReference[] = [];
      for (const ref of scanned.references) {
        const url = resolvePath(spec.path, ref.url);
        const problem = referenceProblem(ref, url, assets);
        if (problem) {
          pageProblem(where, problem);
          continue;
        }
        wellFormed.push({ ...ref, url });
        if (!toFetch.has(url)) toFetch.set(url, `referenced by ${where}`);
      }
      if (locked) for (const problem of compareWithLock(wellFormed, scanned.references, spec.path, locked)) pageProblem(where, problem);

      for (const key of scanned.meta.get('tipline-newsroom-key') ?? []) site.embeddedKeys.push({ where, key });
      if (spec.page === 'landing') {
        if (scanned.newsroomFingerprint) site.shownFingerprints.push({ where, fingerprint: scanned.newsroomFingerprint });
        else pageProblem(where, 'does not show the newsroom key fingerprint');
      }
      if (scanned.assetLockSha256) site.shownLockHashes.push({ where, hash: scanned.assetLockSha256 });
    }
  }
  site.findings.push(...problemsByPage(pageProblems));
  site.findings.push({ level: 'info', message: `pages: ${pagesChecked} fetched (${pages.map((p) => p.page).join(', ')}; each in ${LANGUAGES.length} languages and with none chosen)` });

  // Every locked file too, whether or not a page led to it: the lock lists what a browser may load.
  for (const asset of lock.assets) if (!toFetch.has(asset.path)) toFetch.set(asset.path, 'listed in the lock');
  let assetsChecked = 0;
  for (const [path, why] of toFetch) {
    const asset = assets.get(path);
    if (!asset) {
      site.findings.push({ level: 'problem', message: `${path} (${why}) is not in the asset lock` });
      continue;
    }
    let response: HttpResponse;
    try {
      response = await get(new URL(path, server).href);
    } catch (e) {
      site.findings.push({ level: 'problem', message: `${path} could not be fetched (${(e as Error).message})` });
      continue;
    }
    assetsChecked++;
    if (response.status !== 200) {
      site.findings.push({ level: 'problem', message: `${path} answered ${response.status}, expected 200` });
      continue;
    }
    const mismatch = bytesMismatch(response.body, asset);
    if (mismatch) site.findings.push({ level: 'problem', message: `${path}: ${mismatch}` });
    // Follow what the file loads, whether or not it matched: a changed file may add new ones.
    const text = new TextDecoder().decode(response.body);
    const more = path.endsWith('.css') ? stylesheetUrls(text, path) : path.endsWith('.js') ? [...new Set(Object.values(moduleImports(text, path)).flat())] : [];
    for (const next of more) {
      if (toFetch.has(next)) continue;
      if (!next.startsWith('/')) site.findings.push({ level: 'problem', message: `${path} loads ${next}, from another origin` });
      else toFetch.set(next, `loaded by ${path}`);
    }
  }
  site.findings.push({ level: 'info', message: `assets: ${assetsChecked} fetched and compared byte for byte with the lock (${lock.assets.length} locked)` });
  return site;
}

/** What is wrong with one `<script src>` or `<link href>`, if anything. */
function referenceProblem(ref: ScannedReference, url: string, assets: Map<string, LockedAsset>): string | undefined {
  const tag = describe(ref);
  if (!url.startsWith('/')) return `loads ${tag} from another origin`;
  const asset = assets.get(url);
  if (!asset) return `references ${tag}, which is not in the asset lock`;
  if (ref.integrity === undefined) return `references ${tag} without an integrity attribute (Subresource Integrity)`;
  // Exactly the lock's value: an extra, stronger hash beside it would be the one a browser uses.
  if (ref.integrity !== asset.integrity) return `references ${tag} with integrity "${ref.integrity}", not the lock's "${asset.integrity}"`;
  return undefined;
}

/**
 * Differences between a page's references and the lock's list for that page:
 * locked files the page should not load (`wellFormed`, already resolved; the
 * others were reported already), and files the lock says it loads but it doesn't.
 */
function compareWithLock(wellFormed: ScannedReference[], all: ScannedReference[], pagePath: string, locked: LockedPage): string[] {
  const key = (r: { element: string; rel?: string | undefined; url: string }) => `${r.element} ${r.rel ?? ''} ${r.url}`;
  const lockedKeys = new Set(locked.references.map(key));
  const present = new Set(all.map((r) => key({ ...r, url: resolvePath(pagePath, r.url) })));
  return [
    ...wellFormed.filter((r) => !lockedKeys.has(key(r))).map((r) => `references ${describe(r)}, which the lock's ${locked.page} page does not`),
    ...locked.references.filter((r) => !present.has(key(r))).map((r) => `does not reference ${describe(r)}, which the lock's ${locked.page} page does`),
  ];
}

function bytesMismatch(body: Uint8Array, asset: LockedAsset): string | undefined {
  const sha256 = sha256Hex(body);
  if (sha256 === asset.sha256 && body.length === asset.size) return undefined;
  return `bytes differ from the lock (SHA-256 ${sha256}, ${body.length} bytes; locked: ${asset.sha256}, ${asset.size} bytes)`;
}

function describe(ref: { element: string; rel?: string | undefined; url: string }): string {
  return ref.element === 'script' ? `<script src="${ref.url}">` : `<link rel="${ref.rel ?? ''}" href="${ref.url}">`;
}
